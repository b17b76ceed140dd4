//! The hidden `vinesync watchdog` kills the process group it is given. A
//! group number that kill(2) would read as something else (0: the caller's
//! own group; a negative number: one process; 1: every process) or
//! the watchdog's own group is refused before anything is signalled.
//!
//! Each case runs the watchdog in a session of its own with its standard
//! input closed (which makes a watchdog that accepted the group stop it at
//! once): a defect here can only signal the watchdog itself or the
//! harmless process this test made for the purpose.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

fn watchdog(pgid: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vinesync"))
        .args(["watchdog", "--timeout=10ms", "--grace=10ms"])
        .arg(format!("--pgid={pgid}"))
        .stdin(Stdio::null())
        .process_group(0)
        .output()
        .unwrap()
}

#[test]
fn a_group_kill_would_misread_is_refused() {
    // The "one process" a negative number would name: a sleep of ours.
    let mut bystander = Command::new("sleep").arg("30").spawn().unwrap();
    let one_process = format!("-{}", bystander.id());
    for pgid in ["0", one_process.as_str()] {
        let output = watchdog(pgid);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "--pgid={pgid}: {stderr}");
        assert!(stderr.contains("--pgid"), "--pgid={pgid}: {stderr}");
    }
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the process a negative --pgid names was signalled"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

#[test]
fn the_watchdog_s_own_group_is_refused() {
    // In a session of its own, the shell's pid is its group; exec keeps it.
    let output = Command::new("setsid")
        .args(["sh", "-c", r#"exec "$0" watchdog --pgid=$$ --timeout=10ms"#])
        .arg(env!("CARGO_BIN_EXE_vinesync"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("own group"), "{stderr}");
}
