//! Connecting to an etcd that is not there (yet), or that does not check
//! the credentials given. Without an etcd, with or without credentials,
//! the connect is retried until the dial timeout, then fails with
//! `Unavailable` naming the endpoint and the last error. (With credentials
//! the client authenticates as it connects, and that first failure used to
//! be reported at once: a client started a moment before its etcd failed
//! instead of waiting for it.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use vinesync::{Client, ErrorKind, Options};
use vinesync_testkit::EtcdCluster;

/// A loopback port nobody listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_absent_etcd_is_retried_until_the_dial_timeout() {
    let endpoint = format!("127.0.0.1:{}", closed_port());
    let base = || {
        Options::new()
            .nodes([endpoint.as_str()])
            .dial_timeout(Duration::from_millis(1500))
    };
    for (what, options) in [
        ("without credentials", base()),
        ("with credentials", base().credentials("user", "secret")),
    ] {
        let error = Client::etcd(options)
            .await
            .map(|_| ())
            .expect_err("nothing listens there");
        assert_eq!(error.kind(), ErrorKind::Unavailable, "{what}: {error}");
        let message = error.message();
        // The retry loop's words: it tried for the whole dial timeout.
        assert!(
            message.contains(&format!("etcd at {endpoint} unavailable for 1.5s")),
            "{what}: {message}"
        );
        assert!(!message.contains("secret"), "{what}: {message}");
    }
}

/// Credentials for an etcd with authentication off: `InvalidArgument`
/// saying so (it was `Internal`, "authentication is not enabled").
#[tokio::test]
async fn credentials_for_an_etcd_without_authentication_are_named() {
    let cluster = EtcdCluster::builder().start().unwrap();
    let error = Client::etcd(
        Options::new()
            .nodes([cluster.endpoint(0)])
            .credentials("user", "secret"),
    )
    .await
    .map(|_| ())
    .expect_err("etcd has authentication off");
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
    assert!(
        error.message().contains("does not check them"),
        "{}",
        error.message()
    );
}
