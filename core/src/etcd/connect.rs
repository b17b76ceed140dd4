//! From `Options` to a connected `etcd_client::Client`: endpoints with a
//! scheme, timeouts, HTTP/2 keepalive (to notice dead members), TLS files
//! and credentials. A probe request proves the cluster answers.

#[cfg(feature = "tls")]
use std::path::Path;
use std::time::Duration;

#[cfg(feature = "tls")]
use etcd_client::{Certificate, Identity, TlsOptions};
use etcd_client::{Client, ConnectOptions};

use super::errors;
use super::health::Departures;
use crate::error::{Error, ErrorKind, Result};
use crate::options::Options;

/// `host:port` → `http(s)://host:port`; explicit schemes are kept.
fn endpoint_urls(options: &Options) -> Vec<String> {
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    options
        .nodes
        .iter()
        .map(|node| {
            if node.starts_with("http://") || node.starts_with("https://") {
                node.clone()
            } else {
                format!("{scheme}://{node}")
            }
        })
        .collect()
}

/// Reads a TLS file (`what` names it in the error); its contents are
/// checked by [`read_certificates`] and [`read_private_key`].
#[cfg(feature = "tls")]
fn read_file(what: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::invalid(format!(
            "cannot read the {what} file {}: {e}",
            path.display()
        ))
        .with_source(e)
    })
}

/// One or more PEM certificates (`-----BEGIN CERTIFICATE-----`), checked
/// with the parser the TLS stack uses.
#[cfg(feature = "tls")]
fn read_certificates(what: &str, path: &Path) -> Result<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    let contents = read_file(what, path)?;
    let mut found = 0;
    for certificate in CertificateDer::pem_slice_iter(&contents) {
        certificate.map_err(|e| bad_pem(what, path, &e))?;
        found += 1;
    }
    if found == 0 {
        return Err(bad_file(
            what,
            path,
            "holds no certificate (a -----BEGIN CERTIFICATE----- block)",
        ));
    }
    Ok(contents)
}

/// An unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1), checked with
/// the parser the TLS stack uses.
#[cfg(feature = "tls")]
fn read_private_key(what: &str, path: &Path) -> Result<Vec<u8>> {
    use rustls_pki_types::pem::{self, PemObject};
    use rustls_pki_types::PrivateKeyDer;

    let contents = read_file(what, path)?;
    match PrivateKeyDer::from_pem_slice(&contents) {
        Ok(_) => Ok(contents),
        Err(pem::Error::NoItemsFound) => Err(bad_file(
            what,
            path,
            "holds no unencrypted private key (a -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY block)",
        )),
        Err(e) => Err(bad_pem(what, path, &e)),
    }
}

/// A PEM parse error in words (the parser's own message shows bytes).
#[cfg(feature = "tls")]
fn bad_pem(what: &str, path: &Path, error: &rustls_pki_types::pem::Error) -> Error {
    use rustls_pki_types::pem::Error as Pem;
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_string();
    let problem = match error {
        Pem::MissingSectionEnd { end_marker } => {
            format!(
                "is not usable PEM: a block has no -----END {}----- line",
                text(end_marker)
            )
        }
        Pem::IllegalSectionStart { line } => {
            format!("is not usable PEM: a malformed line {:?}", text(line))
        }
        Pem::Base64Decode(_) => "is not usable PEM: a block's contents are not base64".to_string(),
        other => format!("is not usable PEM: {other}"),
    };
    bad_file(what, path, &problem)
}

#[cfg(feature = "tls")]
fn bad_file(what: &str, path: &Path, problem: &str) -> Error {
    Error::invalid(format!("the {what} file {} {problem}", path.display()))
}

fn connect_options(options: &Options) -> Result<ConnectOptions> {
    let mut connect = ConnectOptions::new()
        .with_connect_timeout(options.dial_timeout)
        .with_timeout(options.request_timeout)
        // HTTP/2 pings no more often than etcd's default enforcement
        // policy allows (--grpc-keepalive-min-time 5 s, no pings without
        // an open stream): faster pings get the connection closed with
        // "too many pings" (SPEC H7). 10 s as gRPC-Go clients use.
        .with_keep_alive(KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT)
        .with_keep_alive_while_idle(false)
        // A member cut off from quorum answers "no leader" instead of
        // serving watches and reads that never see a change (SPEC H7).
        .with_require_leader(true);
    if let Some(credentials) = &options.credentials {
        connect = connect
            .with_user(credentials.user.clone(), credentials.password.clone())
            .with_auto_token_refresh(true);
    }
    if let Some(tls) = &options.tls {
        connect = with_tls(connect, tls)?;
    }
    Ok(connect)
}

#[cfg(feature = "tls")]
fn with_tls(connect: ConnectOptions, tls: &crate::options::TlsOptions) -> Result<ConnectOptions> {
    {
        let mut config = TlsOptions::new();
        if let Some(ca) = &tls.ca_file {
            config = config.ca_certificate(Certificate::from_pem(read_certificates(
                "CA certificate",
                ca,
            )?));
        }
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            config = config.identity(Identity::from_pem(
                read_certificates("client certificate", cert)?,
                read_private_key("client key", key)?,
            ));
        }
        if let Some(name) = &tls.server_name {
            config = config.domain_name(name.clone());
        }
        Ok(connect.with_tls(config))
    }
}

#[cfg(not(feature = "tls"))]
fn with_tls(_: ConnectOptions, _: &crate::options::TlsOptions) -> Result<ConnectOptions> {
    Err(Error::invalid(
        "TLS options were given but vinesync was built without its `tls` feature",
    ))
}

/// The HTTP/2 keepalive ping interval and how long a ping may go unanswered.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// [`connect_options`], reading the TLS files (if any) on the blocking
/// pool and for at most the dial timeout: a read may block (a slow or hung
/// filesystem, a FIFO), and the runtime's worker it would stall keeps
/// every lease of the process alive.
async fn connect_options_read_aside(options: &Options) -> Result<ConnectOptions> {
    if options.tls.is_none() {
        return connect_options(options);
    }
    let owned = options.clone();
    let reading = tokio::task::spawn_blocking(move || connect_options(&owned));
    match tokio::time::timeout(options.dial_timeout, reading).await {
        Ok(Ok(read)) => read,
        Ok(Err(failed)) => Err(Error::internal(format!(
            "reading the TLS files failed: {failed}"
        ))),
        Err(_) => Err(Error::invalid(format!(
            "the TLS files could not be read within the dial timeout ({:?}): \
             is one of them on a stalled filesystem, or a pipe?",
            options.dial_timeout
        ))),
    }
}

/// A client that has answered the connect probe.
pub(super) struct Connected {
    pub client: Client,
    /// The id of the cluster that answered (0 if it said none).
    pub cluster_id: u64,
    /// What the member probes (`health.rs`) connect and read with: the
    /// connect options, the endpoints with their scheme, the probe key.
    pub options: ConnectOptions,
    pub urls: Vec<String>,
    pub probe_key: String,
}

/// Connects and checks that the cluster answers within the dial timeout.
pub(super) async fn connect(options: &Options) -> Result<Connected> {
    let urls = endpoint_urls(options);
    let names = options.nodes.join(",");
    // The probe reads a key inside the prefix, so a role limited to
    // `{prefix}/` is enough.
    let probe = format!("{}/", options.trimmed_prefix());
    let connect = connect_options_read_aside(options).await?;
    // With credentials the client authenticates as it connects: an etcd
    // not up yet is retried until the dial timeout, as the probe below is
    // when the connection is made lazily (no credentials).
    let connected = errors::retry(
        || format!("connecting to etcd at {names}"),
        &names,
        options.dial_timeout,
        &Departures::none(),
        || Client::connect(urls.clone(), Some(connect.clone())),
    )
    .await;
    let client = match connected {
        Ok(client) => client,
        Err(error) => return Err(explain_failure(options, &probe, tell_tls_failure(error)).await),
    };
    // The client connects lazily; a read proves the cluster is there and
    // that the credentials are accepted.
    let kv = client.kv_client();
    let probed = errors::retry(
        || format!("connecting to etcd at {names}"),
        &names,
        options.dial_timeout,
        &Departures::none(),
        || {
            let probe = probe.clone();
            let mut kv = kv.clone();
            async move {
                kv.get(
                    probe,
                    Some(etcd_client::GetOptions::new().with_count_only()),
                )
                .await
            }
        },
    )
    .await;
    match probed {
        Ok(answer) => {
            let cluster_id = answer.header().map_or(0, |h| h.cluster_id());
            Ok(Connected {
                client,
                cluster_id,
                options: connect,
                urls,
                probe_key: probe,
            })
        }
        Err(error) => Err(explain_failure(options, &probe, error).await),
    }
}

/// Adds what the caller can act on to a failed connection or first request: the user
/// whose credentials were refused, the user and prefix a role does not
/// cover, or — when TLS is on and the endpoints
/// accept TCP connections but never answer — that the TLS handshake is
/// what fails (gRPC retries a refused handshake silently until the
/// deadline, so the error itself only says "no answer").
async fn explain_failure(options: &Options, probe: &str, error: Error) -> Error {
    match error.kind() {
        ErrorKind::Unauthenticated => {
            let user = options.credentials.as_ref().map_or("", |c| c.user.as_str());
            Error::new(
                ErrorKind::Unauthenticated,
                format!("{} (user {user:?})", error.message()),
            )
            .with_source(error)
        }
        // The probe reads inside the prefix: a role without it is refused.
        ErrorKind::PermissionDenied => {
            let cert = options.tls.as_ref().and_then(|t| t.cert_file.as_ref());
            let who = match (&options.credentials, cert) {
                (Some(credentials), _) => format!(" for user {:?}", credentials.user),
                // etcd takes the user from the certificate's common name.
                (None, Some(cert)) => {
                    format!(" for the user of client certificate {}", cert.display())
                }
                (None, None) => String::new(),
            };
            Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "{} (the connect probe's read of {:?} was refused{who}: the role needs \
                     read and write on the prefix)",
                    error.message(),
                    probe,
                ),
            )
            .with_source(error)
        }
        ErrorKind::Unavailable if options.tls.is_some() && any_accepts_tcp(options).await => {
            let tls = options.tls.clone().unwrap_or_default();
            let file = |p: &Option<std::path::PathBuf>| {
                p.as_ref()
                    .map_or("none".to_string(), |p| p.display().to_string())
            };
            Error::new(
                ErrorKind::Unavailable,
                format!(
                    "{}: the endpoints accept TCP connections but no TLS session was established \
                     — the TLS handshake failed (CA file {}, client certificate {}, server name {})",
                    error.message(),
                    file(&tls.ca_file),
                    file(&tls.cert_file),
                    tls.server_name.as_deref().unwrap_or("from the endpoint"),
                ),
            )
            .with_source(error)
        }
        _ => error,
    }
}

/// Whether any endpoint accepts a TCP connection within a second.
async fn any_accepts_tcp(options: &Options) -> bool {
    for node in &options.nodes {
        let address = node
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let connect = tokio::net::TcpStream::connect(address);
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), connect).await {
            return true;
        }
    }
    false
}

/// A TLS handshake failure surfaces as a transport error: say so. Only
/// the words of the errors beneath count, not the message, which names the
/// endpoints (`etcd-tls` refusing a connection is no TLS failure).
fn tell_tls_failure(error: Error) -> Error {
    let mut words = String::new();
    let mut cause = std::error::Error::source(&error);
    while let Some(c) = cause {
        words.push_str(&c.to_string().to_lowercase());
        words.push(' ');
        cause = c.source();
    }
    if words.contains("certificate") || words.contains("tls") || words.contains("handshake") {
        let explained = Error::new(
            ErrorKind::Unavailable,
            format!(
                "{} (TLS handshake failed: check the CA, client certificate and server name)",
                error.message()
            ),
        );
        return explained.with_source(error);
    }
    error
}

#[cfg(all(test, feature = "tls"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Writes `contents` to a scratch file named `name`; its path.
    fn scratch(name: &str, contents: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("vinesync-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn only_the_error_s_words_make_it_a_tls_failure() {
        let failed = |names: &str, words: &str| {
            let cause =
                etcd_client::Error::GRpcStatus(tonic::Status::new(tonic::Code::Unavailable, words));
            tell_tls_failure(
                Error::new(
                    ErrorKind::Unavailable,
                    format!("connecting to etcd at {names}: etcd at {names} unavailable"),
                )
                .with_source(cause),
            )
        };
        let error = failed("etcd-tls:2379", "tcp connect error");
        assert!(!error.message().contains("TLS handshake failed"), "{error}");
        let error = failed(
            "etcd:2379",
            "transport error: invalid peer certificate: UnknownIssuer",
        );
        assert!(error.message().contains("TLS handshake failed"), "{error}");
    }

    /// A TLS file whose read blocks (a FIFO nobody writes) is an error
    /// within the dial timeout, read off the runtime's threads: before, the
    /// connect blocked its runtime worker until the file opened.
    #[test]
    fn a_tls_file_that_blocks_is_an_error_within_the_dial_timeout() {
        let fifo = std::env::temp_dir().join(format!("vinesync-{}-ca.fifo", std::process::id()));
        let _ = std::fs::remove_file(&fifo);
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let options = Options::new()
            .nodes(["127.0.0.1:1"])
            .dial_timeout(Duration::from_millis(300))
            .tls(crate::options::TlsOptions::new().ca_file(&fifo));
        // On a thread of its own, so a connect that blocks cannot hang the
        // test: it is told apart by the answer's time.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let _ = tx.send(runtime.block_on(connect(&options)).map(|_| ()));
            // The read still waits on the blocking pool: do not wait for it.
            runtime.shutdown_background();
        });
        let answer = rx.recv_timeout(Duration::from_secs(10));
        // Let the blocked read end: a writer opens and closes the FIFO
        // (without waiting, if no read is left to meet it).
        use std::os::unix::fs::OpenOptionsExt;
        drop(
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo),
        );
        let _ = std::fs::remove_file(&fifo);
        let error = answer
            .expect("the connect blocked on the TLS file past 10 s")
            .unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::InvalidArgument, "{error}");
        assert!(error.message().contains("TLS files"), "{error}");
    }

    const CERT: &str = "-----BEGIN CERTIFICATE-----\r\nAAAA\r\n-----END CERTIFICATE-----\r\n";

    #[test]
    fn tls_files_are_checked_with_the_tls_stack_s_pem_parser() {
        // `openssl x509 -text` output, a bundle, CRLF line ends: accepted.
        let bundle = scratch(
            "bundle.pem",
            &format!("Certificate:\n    Data: ...\n{CERT}{CERT}"),
        );
        assert!(read_certificates("CA certificate", &bundle).is_ok());
        let key = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        let key = scratch("key.pem", key);
        assert!(read_private_key("client key", &key).is_ok());
        // A key where a certificate belongs, and the other way round.
        let err = read_certificates("CA certificate", &key).unwrap_err();
        assert!(err.message().contains("CA certificate file"), "{err}");
        assert!(err.message().contains("no certificate"), "{err}");
        let err = read_private_key("client key", &bundle).unwrap_err();
        assert!(
            err.message().contains("no unencrypted private key"),
            "{err}"
        );
        // An encrypted key, which the TLS stack cannot use either.
        let encrypted = scratch(
            "encrypted.pem",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        );
        let err = read_private_key("client key", &encrypted).unwrap_err();
        assert!(
            err.message().contains("no unencrypted private key"),
            "{err}"
        );
        // A block without its end.
        let cut = scratch("cut.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n");
        let err = read_certificates("CA certificate", &cut).unwrap_err();
        assert!(
            err.message()
                .contains("not usable PEM: a block has no -----END CERTIFICATE----- line"),
            "{err}"
        );
        for path in [bundle, key, encrypted, cut] {
            let _ = std::fs::remove_file(path);
        }
    }
}
