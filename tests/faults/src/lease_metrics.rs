//! How many leases one etcd member revoked as expired, from its `/metrics`
//! (`etcd_debugging_server_lease_expired_total`, counted on the member that
//! proposed the revocation once it was applied).
//!
//! Only a raft leader's lessor revokes leases — except in etcd before
//! 3.4.31 and 3.5.13 (etcd issue 15247): a leader that was stalled (here:
//! SIGSTOPped) still believes it leads when it resumes, finds every lease
//! overdue by its own clock, and proposes their revocation; once it has
//! stepped down, raft forwards those proposals to the new leader, which
//! applies them. Live clients' leases are then revoked although they kept
//! them alive. The suite reads this counter on the deposed leader to tell
//! that server fault apart from a library bug.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const COUNTERS: [&str; 2] = [
    "etcd_debugging_server_lease_expired_total",
    "etcd_server_lease_expired_total",
];

/// The member's count of leases it revoked as expired. `client_url` is
/// `http://127.0.0.1:PORT` (the suite's clusters run without TLS).
pub fn revoked_as_expired(client_url: &str) -> Result<u64, String> {
    let address = client_url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{client_url}: only plain http is read"))?;
    let text = get_metrics(address).map_err(|e| format!("reading {client_url}/metrics: {e}"))?;
    parse(&text).ok_or_else(|| format!("{client_url}/metrics has no lease expiry counter"))
}

fn get_metrics(address: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    stream.set_write_timeout(Some(Duration::from_secs(3)))?;
    write!(
        stream,
        "GET /metrics HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

fn parse(text: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        if !COUNTERS.contains(&name) {
            return None;
        }
        let value: f64 = value.trim().parse().ok()?;
        // A counter is a whole number; the cast saturates on nonsense.
        Some(value as u64)
    })
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::{parse, revoked_as_expired};
    use std::time::Duration;

    #[test]
    fn reads_the_counter_of_either_name() {
        let old = "# HELP x\netcd_debugging_server_lease_expired_total 5\nother 1\n";
        assert_eq!(parse(old), Some(5));
        assert_eq!(parse("etcd_server_lease_expired_total 2e+00\n"), Some(2));
        assert_eq!(parse("etcd_debugging_lease_revoked_total 3\n"), None);
    }

    /// The counter this suite relies on exists under the name it reads, and
    /// counts a lease the leader expires (else the detection in
    /// `scenario::pause_member_3s` could never see anything).
    #[test]
    fn counts_a_lease_the_leader_expired() {
        let cluster = vinesync_testkit::EtcdCluster::start(1).expect("etcd");
        let url = cluster.client_url(0);
        let before = revoked_as_expired(&url).expect("the counter");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut client = etcd_client::Client::connect(cluster.endpoints(), None)
                .await
                .expect("connect");
            client.lease_grant(1, None).await.expect("grant");
        });
        let rose = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            revoked_as_expired(&url).expect("the counter") > before
        });
        assert!(
            rose,
            "a 1 s lease nobody kept alive was not counted within 5 s"
        );
    }
}
