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
