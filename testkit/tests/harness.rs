//! The harness itself: clusters start, serve, survive a member restart and
//! leave no process or directory behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use vinesync_testkit::EtcdCluster;

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the pid exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// Put then get; retried for a while, since a killed leader means an
/// election (hundreds of ms) before the cluster takes writes again.
fn put_get(cluster: &EtcdCluster, key: &str) {
    let mut attempts = 0;
    loop {
        let put = cluster.etcdctl(&["put", key, "v"]).unwrap();
        if put.status.success() {
            break;
        }
        attempts += 1;
        assert!(attempts < 20, "{}", String::from_utf8_lossy(&put.stderr));
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let get = cluster
        .etcdctl(&["get", key, "--print-value-only"])
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&get.stdout).trim(), "v");
}

#[test]
fn single_node_serves_and_cleans_up() {
    let cluster = EtcdCluster::start(1).unwrap();
    put_get(&cluster, "k1");
    let pid = cluster.pid(0).unwrap();
    let dir = cluster.data_dir().to_path_buf();
    assert!(dir.exists());
    drop(cluster);
    assert!(!alive(pid), "etcd {pid} still running after drop");
    assert!(!dir.exists(), "temp dir left behind");
}

#[test]
fn three_members_survive_a_killed_member() {
    let mut cluster = EtcdCluster::start(3).unwrap();
    assert_eq!(cluster.endpoints().len(), 3);
    put_get(&cluster, "before");
    let pid = cluster.pid(0).unwrap();
    cluster.kill_member(0).unwrap();
    assert!(!alive(pid));
    put_get(&cluster, "during");
    cluster.restart_member(0).unwrap();
    put_get(&cluster, "after");
    let pids: Vec<u32> = (0..3).filter_map(|i| cluster.pid(i)).collect();
    drop(cluster);
    assert!(pids.iter().all(|p| !alive(*p)));
}

#[test]
fn run_passes_endpoints_and_exit_code() {
    let status = Command::new(env!("CARGO_BIN_EXE_vinesync-etcd"))
        .args(["run", "--", "sh", "-c"])
        .arg("test -n \"$VINESYNC_NODES\" && ETCDCTL_API=3 etcdctl --endpoints=\"$VINESYNC_NODES\" put k v >/dev/null && exit 7")
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(7));
}

#[test]
fn serve_obeys_fault_commands_and_exits_on_eof() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vinesync-etcd"))
        .args(["serve", "--members", "3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let hello: serde_json::Value = serde_json::from_str(&line).unwrap();
    let pids: Vec<u32> = hello["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(pids.len(), 3);
    let mut stdin = child.stdin.take().unwrap();
    for (command, answer) in [("kill 1", "ok"), ("restart 1", "ok"), ("bogus 1", "error")] {
        writeln!(stdin, "{command}").unwrap();
        line.clear();
        out.read_line(&mut line).unwrap();
        assert!(line.starts_with(answer), "{command}: {line}");
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    assert!(pids.iter().all(|p| !alive(*p)));
}

/// `etcdctl` against member `i` alone.
fn etcdctl_on(cluster: &EtcdCluster, i: usize, args: &[&str]) -> std::process::Output {
    Command::new(vinesync_testkit::binaries::etcdctl())
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", cluster.client_url(i)))
        .arg("--command-timeout=2s")
        .args(args)
        .output()
        .unwrap()
}

/// The leader member `i` reports, and its own id (from `endpoint status`).
fn leader_seen_by(cluster: &EtcdCluster, i: usize) -> Option<(u64, u64)> {
    let out = etcdctl_on(cluster, i, &["endpoint", "status", "-w", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let status = &status[0]["Status"];
    Some((
        status["leader"].as_u64()?,
        status["header"]["member_id"].as_u64()?,
    ))
}

/// Waits (bounded) for `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "not within 20 s: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn an_isolated_member_is_cut_off_from_the_others_until_healed() {
    let mut cluster = EtcdCluster::builder()
        .members(3)
        .peer_proxies()
        .start()
        .unwrap();
    put_get(&cluster, "before");
    let mut leader = None;
    eventually("a leader", || {
        leader = (0..3).find(|&i| leader_seen_by(&cluster, i).is_some_and(|(l, me)| l == me));
        leader.is_some()
    });
    let cut = leader.unwrap();
    let (old_leader_id, _) = leader_seen_by(&cluster, cut).unwrap();
    cluster.isolate_member(cut).unwrap();
    let others: Vec<usize> = (0..3).filter(|&i| i != cut).collect();
    // The two others elect a new leader among themselves and take writes;
    // the isolated member takes none.
    eventually("the others elect a new leader", || {
        others.iter().all(|&i| {
            leader_seen_by(&cluster, i).is_some_and(|(l, _)| l != old_leader_id && l != 0)
        })
    });
    eventually("the others take a write", || {
        etcdctl_on(&cluster, others[0], &["put", "during", "v"])
            .status
            .success()
    });
    let refused = etcdctl_on(&cluster, cut, &["put", "isolated", "v"]);
    assert!(
        !refused.status.success(),
        "the isolated member took a write: {}",
        String::from_utf8_lossy(&refused.stdout)
    );
    cluster.heal_partition();
    // Healed, it rejoins and serves what was written without it.
    eventually("the healed member serves the write made without it", || {
        let get = etcdctl_on(&cluster, cut, &["get", "during", "--print-value-only"]);
        String::from_utf8_lossy(&get.stdout).trim() == "v"
    });
}
