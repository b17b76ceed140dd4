//! The connection flags and their VINESYNC_* variables reach etcd: mutual
//! TLS and user/password on a real etcd (generated certificates, a role
//! limited to `/app/`). Wrong settings give one line and a non-zero exit,
//! never the password.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use vinesync_testkit::{Auth, EtcdCluster, Tls};

const PASSWORD: &str = "app-Pa55-cli";

fn vinesync(envs: &[(&str, String)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vinesync"));
    for name in [
        "VINESYNC_NODES",
        "VINESYNC_PREFIX",
        "VINESYNC_CACERT",
        "VINESYNC_CERT",
        "VINESYNC_KEY",
        "VINESYNC_SERVER_NAME",
        "VINESYNC_USER",
        "VINESYNC_PASSWORD",
        "VINESYNC_DIAL_TIMEOUT_MS",
        "VINESYNC_REQUEST_TIMEOUT_MS",
    ] {
        command.env_remove(name);
    }
    command.envs(envs.iter().map(|(k, v)| (k, v)));
    command.args(args).output().expect("running vinesync")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails with one line on stderr, without the password.
fn assert_one_line_failure(output: &Output, code: i32, names: &str) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{text}");
    assert_eq!(text.lines().count(), 1, "{text:?}");
    assert!(text.contains(names), "{names:?} not in {text:?}");
    assert!(
        !text.contains(PASSWORD) && !text.contains("wrong-pw"),
        "{text}"
    );
}

#[test]
fn flags_and_variables_reach_a_secured_etcd() {
    let cluster = EtcdCluster::builder().tls(Tls::Mutual).start().unwrap();
    let auth = Auth::new("app", PASSWORD, "/app/");
    auth.enable(&cluster).unwrap();
    let certs = cluster.certs().unwrap();
    let path = |p: &std::path::Path| p.display().to_string();
    let endpoint = cluster.client_url(0);

    // Flags only.
    let flags = [
        format!("--endpoints={endpoint}"),
        "--prefix=/app".to_string(),
        format!("--cacert={}", path(&certs.ca)),
        format!("--cert={}", path(&certs.client_cert)),
        format!("--key={}", path(&certs.client_key)),
        "--server-name=localhost".to_string(),
        "--user=app".to_string(),
        format!("--password={PASSWORD}"),
        "--dial-timeout=3s".to_string(),
        "--request-timeout=5s".to_string(),
    ];
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.extend([
        "lock",
        "secured",
        "--",
        "sh",
        "-c",
        "test -n \"$VINESYNC_FENCING_TOKEN\"",
    ]);
    let output = vinesync(&[], &args);
    assert!(output.status.success(), "flags: {}", stderr(&output));

    // Variables only.
    let envs = [
        ("VINESYNC_NODES", endpoint.clone()),
        ("VINESYNC_PREFIX", "/app".to_string()),
        ("VINESYNC_CACERT", path(&certs.ca)),
        ("VINESYNC_CERT", path(&certs.client_cert)),
        ("VINESYNC_KEY", path(&certs.client_key)),
        ("VINESYNC_SERVER_NAME", "localhost".to_string()),
        ("VINESYNC_USER", "app".to_string()),
        ("VINESYNC_PASSWORD", PASSWORD.to_string()),
        ("VINESYNC_DIAL_TIMEOUT_MS", "3000".to_string()),
        ("VINESYNC_REQUEST_TIMEOUT_MS", "5000".to_string()),
    ];
    let output = vinesync(&envs, &["locks", "--json"]);
    assert!(output.status.success(), "variables: {}", stderr(&output));

    // A flag overrides its variable.
    let output = vinesync(&envs, &["--password=wrong-pw", "locks"]);
    assert_one_line_failure(&output, 1, "app");

    // A prefix outside the user's role.
    let output = vinesync(&envs, &["--prefix=/other", "locks"]);
    assert_one_line_failure(&output, 1, "permission denied");
    assert_one_line_failure(
        &output,
        1,
        "read of \"/other/\" was refused for user \"app\"",
    );

    // No client certificate: mutual TLS refuses.
    let without_cert: Vec<_> = envs
        .iter()
        .filter(|(k, _)| !matches!(*k, "VINESYNC_CERT" | "VINESYNC_KEY"))
        .cloned()
        .collect();
    let output = vinesync(&without_cert, &["--dial-timeout=1s", "locks"]);
    assert_one_line_failure(&output, 69, &cluster.endpoint(0));

    // Bad variables and flag combinations name what is wrong.
    let mut bad = envs.to_vec();
    bad.push(("VINESYNC_DIAL_TIMEOUT_MS", "soon".to_string()));
    let output = vinesync(&bad, &["locks"]);
    assert_one_line_failure(&output, 2, "VINESYNC_DIAL_TIMEOUT_MS");
    let output = vinesync(&without_cert, &["--key=/k.pem", "locks"]);
    assert_one_line_failure(&output, 2, "certificate and key");
    let output = vinesync(&[], &["--password=x", "locks"]);
    assert_one_line_failure(&output, 2, "--password needs --user");
    // Files of the wrong kind are named, not reported as a failed handshake.
    let output = vinesync(
        &replaced(&envs, "VINESYNC_CACERT", &certs.client_key),
        &["locks"],
    );
    assert_one_line_failure(&output, 2, "CA certificate file");
    assert!(
        stderr(&output).contains("no certificate"),
        "{}",
        stderr(&output)
    );
    let output = vinesync(&replaced(&envs, "VINESYNC_KEY", &certs.ca), &["locks"]);
    assert_one_line_failure(&output, 2, "no unencrypted private key");
}

/// `envs` with the file variable `name` set to `file`.
fn replaced(
    envs: &[(&'static str, String)],
    name: &str,
    file: &std::path::Path,
) -> Vec<(&'static str, String)> {
    let file = file.display().to_string();
    envs.iter()
        .map(|(k, v)| (*k, if *k == name { file.clone() } else { v.clone() }))
        .collect()
}
