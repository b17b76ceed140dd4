//! From `Options` to a connected `etcd_client::Client`: endpoints with a
//! scheme, timeouts, HTTP/2 keepalive (to notice dead members), TLS files
//! and credentials. A probe request proves the cluster answers.

use std::path::Path;
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};

use super::errors;
use crate::error::{Error, ErrorKind, Result};
use crate::options::Options;

/// `host:port` → `http(s)://host:port`; explicit schemes are kept.
pub(super) fn endpoint_urls(options: &Options) -> Vec<String> {
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

fn read_file(what: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::invalid(format!(
            "cannot read the {what} file {}: {e}",
            path.display()
        ))
    })
}

fn connect_options(options: &Options) -> Result<ConnectOptions> {
    let mut connect = ConnectOptions::new()
        .with_connect_timeout(options.dial_timeout)
        .with_timeout(options.request_timeout)
        .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2))
        .with_keep_alive_while_idle(true);
    if let Some(credentials) = &options.credentials {
        connect = connect
            .with_user(credentials.user.clone(), credentials.password.clone())
            .with_auto_token_refresh(true);
    }
    if let Some(tls) = &options.tls {
        let mut config = TlsOptions::new();
        if let Some(ca) = &tls.ca_file {
            config = config.ca_certificate(Certificate::from_pem(read_file("CA certificate", ca)?));
        }
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            config = config.identity(Identity::from_pem(
                read_file("client certificate", cert)?,
                read_file("client key", key)?,
            ));
        }
        if let Some(name) = &tls.server_name {
            config = config.domain_name(name.clone());
        }
        connect = connect.with_tls(config);
    }
    Ok(connect)
}

/// Connects and checks that the cluster answers within the dial timeout.
pub(super) async fn connect(options: &Options) -> Result<Client> {
    let urls = endpoint_urls(options);
    let names = options.nodes.join(",");
    let connect = connect_options(options)?;
    let client = match tokio::time::timeout(
        options.dial_timeout,
        Client::connect(urls.clone(), Some(connect)),
    )
    .await
    {
        Ok(Ok(client)) => client,
        Ok(Err(error)) => return Err(describe_connect_error(&names, &error)),
        Err(_) => {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "connecting to etcd at {names}: no answer within {:?}",
                    options.dial_timeout
                ),
            ))
        }
    };
    // The client connects lazily; a read proves the cluster is there and
    // that the credentials are accepted.
    let kv = client.kv_client();
    let probe = options.prefix.clone();
    errors::retry(
        &format!("connecting to etcd at {names}"),
        &names,
        options.dial_timeout,
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
    .await?;
    Ok(client)
}

fn describe_connect_error(names: &str, error: &etcd_client::Error) -> Error {
    let base = errors::to_error(&format!("connecting to etcd at {names}"), error);
    // A TLS handshake failure surfaces as a transport error: say so.
    let text = base.message().to_lowercase();
    if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        return Error::new(
            ErrorKind::Unavailable,
            format!(
                "{} (TLS handshake failed: check the CA, client certificate and server name)",
                base.message()
            ),
        );
    }
    base
}
