//! The etcd handle: the VINESYNC_* variables (`Options::from_env`), then the
//! flags over them.

use std::time::Duration;

use vinesync::{Client, Credentials, Options, TlsOptions};

use crate::args::Connection;
use crate::exit::{self, Failure};
use crate::interrupts::Interrupts;
use crate::signal_name;

/// The options the flags and the environment ask for, validated.
pub fn options(flags: &Connection) -> Result<Options, Failure> {
    let mut options = Options::from_env()?;
    if !flags.endpoints.is_empty() {
        options.nodes = flags
            .endpoints
            .iter()
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect();
        if options.nodes.is_empty() {
            return Err(Failure::new(
                exit::USAGE,
                "--endpoints names no endpoint (give host:port, comma-separated)".to_string(),
            ));
        }
    }
    if let Some(prefix) = &flags.prefix {
        options.set_prefix(prefix.clone());
    }
    if let Some(timeout) = flags.dial_timeout {
        options.dial_timeout = timeout;
    }
    if let Some(timeout) = flags.request_timeout {
        options.request_timeout = timeout;
    }
    let mut tls_flags = TlsOptions::new();
    tls_flags.ca_file = flags.cacert.clone();
    tls_flags.cert_file = flags.cert.clone();
    tls_flags.key_file = flags.key.clone();
    tls_flags.server_name = flags.server_name.clone();
    if tls_flags != TlsOptions::default() {
        let tls = options.tls.get_or_insert_with(TlsOptions::default);
        tls.ca_file = tls_flags.ca_file.or(tls.ca_file.take());
        tls.cert_file = tls_flags.cert_file.or(tls.cert_file.take());
        tls.key_file = tls_flags.key_file.or(tls.key_file.take());
        tls.server_name = tls_flags.server_name.or(tls.server_name.take());
    }
    if let Some(user) = &flags.user {
        let password = options
            .credentials
            .take()
            .map(|c| c.password)
            .unwrap_or_default();
        options.credentials = Some(Credentials::new(user.clone(), password));
    }
    if let Some(password) = &flags.password {
        match options.credentials.as_mut() {
            Some(credentials) => credentials.password = password.clone(),
            None => {
                return Err(Failure::new(
                    crate::exit::USAGE,
                    "--password needs --user (or VINESYNC_USER)",
                ))
            }
        }
    }
    if options.prefix.chars().any(char::is_control) {
        // Keys are printed on lines that scripts read (`lock`).
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "--prefix (or VINESYNC_PREFIX) {:?} must not contain a control character",
                options.prefix
            ),
        ));
    }
    options.validate()?;
    Ok(options)
}

/// Connects to etcd.
pub async fn client(flags: &Connection) -> Result<Client, Failure> {
    Ok(Client::etcd(options(flags)?).await?)
}

/// Connects to etcd unless a signal comes first (`INTERRUPTED`): an etcd
/// that accepts connections but does not answer would otherwise keep a
/// Ctrl-C waiting for the whole dial timeout. Nothing is written before
/// the connection, so there is nothing to undo.
pub async fn client_unless_interrupted(
    flags: &Connection,
    interrupts: &mut Interrupts,
) -> Result<Client, Failure> {
    tokio::select! {
        client = client(flags) => client,
        signal = interrupts.next() => Err(Failure::new(
            exit::INTERRUPTED,
            format!("{} while connecting to etcd", signal_name::name(signal)),
        )),
    }
}

/// How long closing the handle waits on etcd once the lock or the role was
/// lost: the loss often means etcd cannot be reached, and what the close
/// would release is gone already or expires with its lease.
const CLOSE_AFTER_A_LOSS: Duration = Duration::from_secs(1);

/// Closes the handle (revoking its lease) after `outcome`, unless a second
/// signal stops the wait; after a loss (exit 76) for at most
/// [`CLOSE_AFTER_A_LOSS`], so a supervisor hears of the loss at once.
pub async fn close(
    client: &Client,
    outcome: &Result<u8, Failure>,
    what: &str,
    interrupts: &mut Interrupts,
) -> Result<(), Failure> {
    let closing = interrupts.unless_again(what, client.close());
    if matches!(outcome, Err(failure) if failure.code == exit::LOST) {
        if tokio::time::timeout(CLOSE_AFTER_A_LOSS, closing)
            .await
            .is_err()
        {
            note!(
                "vinesync: not waiting for etcd to close after the loss; its lease expires (TTL)"
            );
        }
        return Ok(());
    }
    closing.await
}
