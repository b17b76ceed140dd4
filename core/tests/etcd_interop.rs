//! The key layout is interoperable (SPEC §3): `etcdctl lock` and
//! `etcdctl elect` (etcd's own `concurrency` recipes) contend and observe
//! correctly with vinesync on the same prefix. Real etcd, real etcdctl.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vinesync::{Client, ErrorKind, LeaderOptions, LockOptions, MemberOptions, Options};
use vinesync_testkit::EtcdCluster;

const PREFIX: &str = "/interop";

fn etcdctl(cluster: &EtcdCluster, args: &[&str]) -> Child {
    Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", cluster.endpoints().join(",")))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcdctl")
}

async fn client(cluster: &EtcdCluster) -> Client {
    Client::etcd(Options::new().prefix(PREFIX).nodes(cluster.endpoints()))
        .await
        .unwrap()
}

fn ttl(s: u64) -> LockOptions {
    LockOptions::new().ttl(Duration::from_secs(s))
}

/// Waits (bounded) until `dir` has `n` keys.
async fn wait_keys(c: &Client, dir: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let keys = c.faults().keys().await.unwrap();
        if keys.iter().filter(|kv| kv.key.starts_with(dir)).count() == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} keys under {dir}: {keys:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_lock_excludes_vinesync() {
    let cluster = EtcdCluster::start(1).unwrap();
    let c = client(&cluster).await;
    let dir = format!("{PREFIX}/locks/shared/");
    let holder = etcdctl(
        &cluster,
        &[
            "lock",
            "--ttl=5",
            &format!("{PREFIX}/locks/shared"),
            "--",
            "sleep",
            "2",
        ],
    );
    wait_keys(&c, &dir, 1).await;
    let err = c.try_lock("shared", ttl(10)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    // etcdctl releases when its command ends; then vinesync gets the lock.
    let g = c
        .lock("shared", ttl(10).wait(Duration::from_secs(15)))
        .await
        .expect("vinesync never got the lock after etcdctl released it");
    g.unlock().await.unwrap();
    stop(holder);
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vinesync_lock_excludes_etcdctl() {
    let cluster = EtcdCluster::start(1).unwrap();
    let c = client(&cluster).await;
    let g = c.lock("shared", ttl(10)).await.unwrap();
    let mut waiter = etcdctl(
        &cluster,
        &[
            "lock",
            "--ttl=5",
            &format!("{PREFIX}/locks/shared"),
            "--",
            "echo",
            "etcdctl-got-it",
        ],
    );
    wait_keys(&c, &format!("{PREFIX}/locks/shared/"), 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "etcdctl got a lock vinesync holds"
    );
    g.unlock().await.unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = waiter.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "etcdctl never got the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let mut out = String::new();
    BufReader::new(waiter.stdout.take().unwrap())
        .read_line(&mut out)
        .unwrap();
    assert!(out.contains("etcdctl-got-it"), "{out}");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_elect_listen_shows_our_primary() {
    let cluster = EtcdCluster::start(1).unwrap();
    let c = client(&cluster).await;
    let leader = c
        .leader(
            "svc",
            LeaderOptions::new()
                .namespace("ns")
                .id("our-primary")
                .ttl(Duration::from_secs(10)),
        )
        .await
        .unwrap();
    leader.wait_elected().await.unwrap();
    let mut listen = etcdctl(
        &cluster,
        &["elect", "--listen", &format!("{PREFIX}/leaders/ns")],
    );
    let mut reader = BufReader::new(listen.stdout.take().unwrap());
    let mut seen = String::new();
    for _ in 0..2 {
        reader.read_line(&mut seen).unwrap();
    }
    assert!(
        seen.contains("\"id\":\"our-primary\""),
        "etcdctl elect --listen printed {seen:?}"
    );
    stop(listen);
    leader.resign().await.unwrap();
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_candidate_is_listed_with_its_raw_value() {
    let cluster = EtcdCluster::start(1).unwrap();
    let c = client(&cluster).await;
    let ours = c
        .leader(
            "svc",
            LeaderOptions::new()
                .namespace("ns")
                .id("ours")
                .ttl(Duration::from_secs(10)),
        )
        .await
        .unwrap();
    let theirs = etcdctl(
        &cluster,
        &["elect", &format!("{PREFIX}/leaders/ns"), "someone"],
    );
    wait_keys(&c, &format!("{PREFIX}/leaders/ns/"), 2).await;
    let members = c
        .list_members(MemberOptions::new().namespace("ns"))
        .await
        .expect("a foreign candidate must not be an error");
    assert_eq!(members.len(), 2);
    assert_eq!(members[0].id, "ours");
    assert_eq!(members[1].leader, "someone");
    assert_eq!(members[1].namespace, "ns");
    stop(theirs);
    ours.resign().await.unwrap();
    c.close().await;
}
