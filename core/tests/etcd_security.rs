//! Security (the security issue): TLS, mutual TLS and user/password auth
//! against a real etcd started with certificates generated for the test —
//! right settings connect, wrong ones fail with a clear kind and message,
//! and no password or token appears in an error or a log line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use vinesync::{Client, Error, ErrorKind, LeaderOptions, LockOptions, Options, TlsOptions};
use vinesync_testkit::{Auth, CapturedLog, Certs, EtcdCluster, Tls};

const PASSWORD: &str = "s3cret-Pa55-xyzzy";

fn ttl(seconds: u64) -> LockOptions {
    LockOptions::new().ttl(Duration::from_secs(seconds))
}

fn tls(ca: &Path, client: Option<(&Path, &Path)>) -> TlsOptions {
    let tls = TlsOptions::new().ca_file(ca);
    match client {
        Some((cert, key)) => tls.identity(cert, key),
        None => tls,
    }
}

fn options(cluster: &EtcdCluster, prefix: &str) -> Options {
    Options::new()
        .prefix(prefix)
        .nodes(cluster.endpoints())
        .dial_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(4))
}

async fn connect(options: Options) -> Result<Client, Error> {
    Client::etcd(options).await
}

/// Lock, unlock and an election round on `client`.
async fn exercise(client: &Client) {
    let guard = client.lock("secured", ttl(5)).await.unwrap();
    assert!(guard.fencing_token() > 0);
    guard.unlock().await.unwrap();
    let leader = client
        .leader(
            "svc",
            LeaderOptions::new()
                .namespace("sec")
                .ttl(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    leader.wait_elected().await.unwrap();
    leader.resign().await.unwrap();
}

fn certs(cluster: &EtcdCluster) -> &Certs {
    cluster.certs().expect("started with TLS")
}

fn assert_fails(result: Result<Client, Error>, kind: ErrorKind, fragments: &[&str]) -> Error {
    let error = match result {
        Ok(_) => panic!("connected, but {kind:?} was expected"),
        Err(e) => e,
    };
    assert_eq!(error.kind(), kind, "{error}");
    let message = error.message().to_lowercase();
    for fragment in fragments {
        assert!(
            message.contains(&fragment.to_lowercase()),
            "{fragment:?} not in {error}"
        );
    }
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_right_ca_connects_wrong_or_missing_ca_fails_clearly() {
    let cluster = EtcdCluster::builder().tls(Tls::Server).start().unwrap();
    let c = certs(&cluster);
    let client = connect(options(&cluster, "/tls").tls(tls(&c.ca, None)))
        .await
        .unwrap();
    exercise(&client).await;
    client.close().await;

    let endpoint = cluster.endpoint(0);
    assert_fails(
        connect(options(&cluster, "/tls").tls(tls(&c.other_ca, None))).await,
        ErrorKind::Unavailable,
        &[&endpoint, "tls"],
    );
    // Plain HTTP/2 against a TLS port: no answer it understands.
    assert_fails(
        connect(options(&cluster, "/tls")).await,
        ErrorKind::Unavailable,
        &[&endpoint],
    );
    // A CA file that does not exist is named.
    assert_fails(
        connect(options(&cluster, "/tls").tls(tls(Path::new("/nonexistent/ca.pem"), None))).await,
        ErrorKind::InvalidArgument,
        &["/nonexistent/ca.pem"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_server_name_override() {
    let cluster = EtcdCluster::builder().tls(Tls::Server).start().unwrap();
    let c = certs(&cluster);
    let mut right = tls(&c.ca, None);
    right.server_name = Some("localhost".into());
    let client = connect(options(&cluster, "/sni").tls(right)).await.unwrap();
    exercise(&client).await;
    client.close().await;

    let mut wrong = tls(&c.ca, None);
    wrong.server_name = Some("not-this-server.invalid".into());
    assert_fails(
        connect(options(&cluster, "/sni").tls(wrong)).await,
        ErrorKind::Unavailable,
        &["tls"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_right_client_cert_works_missing_or_foreign_cert_fails() {
    let cluster = EtcdCluster::builder().tls(Tls::Mutual).start().unwrap();
    let c = certs(&cluster);
    let client =
        connect(options(&cluster, "/mtls").tls(tls(&c.ca, Some((&c.client_cert, &c.client_key)))))
            .await
            .unwrap();
    exercise(&client).await;
    client.close().await;

    assert_fails(
        connect(options(&cluster, "/mtls").tls(tls(&c.ca, None))).await,
        ErrorKind::Unavailable,
        &[&cluster.endpoint(0)],
    );
    assert_fails(
        connect(options(&cluster, "/mtls").tls(tls(
            &c.ca,
            Some((&c.other_client_cert, &c.other_client_key)),
        )))
        .await,
        ErrorKind::Unavailable,
        &[&cluster.endpoint(0)],
    );
}

fn auth_cluster(extra: &[&str]) -> (EtcdCluster, Auth) {
    let cluster = EtcdCluster::builder()
        .extra_args(extra.iter().copied())
        .start()
        .unwrap();
    let auth = Auth::new("app", PASSWORD, "/app/");
    auth.enable(&cluster).unwrap();
    (cluster, auth)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_right_password_works_wrong_one_and_foreign_prefix_fail_clearly() {
    let (cluster, auth) = auth_cluster(&[]);
    let client = connect(options(&cluster, "/app").credentials(&auth.user, &auth.password))
        .await
        .unwrap();
    exercise(&client).await;
    client.close().await;

    let error = assert_fails(
        connect(options(&cluster, "/app").credentials(&auth.user, "wrong-Pa55-plugh")).await,
        ErrorKind::Unauthenticated,
        &["app"],
    );
    assert!(!error.message().contains("wrong-Pa55-plugh"), "{error}");
    assert!(!format!("{error:?}").contains("wrong-Pa55-plugh"));

    // The role covers /app/ only.
    let error = assert_fails(
        connect(options(&cluster, "/other").credentials(&auth.user, &auth.password)).await,
        ErrorKind::PermissionDenied,
        &[
            "permission denied",
            "read of \"/other/\" was refused for user \"app\"",
        ],
    );
    assert!(!error.message().contains(PASSWORD), "{error}");
}

/// With simple tokens that expire after 2 s, a held lock and a handle used
/// over 3× that time (with idle gaps longer than the token TTL) keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_expired_tokens_are_refreshed() {
    const TOKEN_TTL: u64 = 2;
    let (cluster, auth) = auth_cluster(&["--auth-token-ttl", "2"]);
    let opts = options(&cluster, "/app").credentials(&auth.user, &auth.password);
    let holder = connect(opts.clone()).await.unwrap();
    let user = connect(opts).await.unwrap();
    let held = holder.lock("held", ttl(3)).await.unwrap();
    for round in 0..3 {
        // Idle longer than the token TTL: the next request finds it expired.
        tokio::time::sleep(Duration::from_secs(TOKEN_TTL + 1)).await;
        let guard = user.lock(&format!("used-{round}"), ttl(3)).await.unwrap();
        guard.unlock().await.unwrap();
        assert_eq!(
            user.try_lock("held", ttl(3)).await.unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert!(!held.is_lost(), "round {round}: the held lock was lost");
    }
    held.unlock().await.unwrap();
    holder.close().await;
    user.close().await;
}

/// etcd 3.4's simple tokens: 16 letters, '.', a number.
fn contains_simple_token(text: &str) -> bool {
    let bytes = text.as_bytes();
    (0..bytes.len()).any(|i| {
        let letters = bytes[i..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        letters == 16
            && (i == 0 || !bytes[i - 1].is_ascii_alphabetic())
            && bytes.get(i + 16) == Some(&b'.')
            && bytes.get(i + 17).is_some_and(u8::is_ascii_digit)
    })
}

#[test]
fn simple_token_detector_detects() {
    assert!(contains_simple_token("token=AbCdEfGhIjKlMnOp.42 x"));
    assert!(!contains_simple_token("no token here: abc.1"));
}

#[test]
fn no_password_or_token_in_logs_or_errors() {
    let captured = CapturedLog::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let mut errors = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (cluster, auth) = auth_cluster(&[]);
            let wrong =
                connect(options(&cluster, "/app").credentials(&auth.user, PASSWORD.to_uppercase()))
                    .await;
            let error = wrong.expect_err("a wrong password must fail");
            errors.push(format!("{error} {error:?}"));
            let opts = options(&cluster, "/app").credentials(&auth.user, &auth.password);
            errors.push(format!("{opts:?}"));
            let client = connect(opts).await.unwrap();
            exercise(&client).await;
            if let Err(error) = client.unlock("not-held").await {
                errors.push(format!("{error} {error:?}"));
            }
            client.close().await;
        });
    });
    let logs = captured.text();
    assert!(
        logs.lines().count() > 10,
        "the capture saw almost nothing:\n{logs}"
    );
    let everything = format!("{logs}\n{}", errors.join("\n"));
    for secret in [PASSWORD, &PASSWORD.to_uppercase()] {
        assert!(
            !everything.contains(secret),
            "a password leaked:\n{everything}"
        );
    }
    assert!(
        !contains_simple_token(&everything),
        "a token leaked:\n{everything}"
    );
}
