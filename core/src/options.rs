//! Options and their validation, in one place.
//!
//! The names follow vine's `sync` package: `Prefix`, `Nodes` for the handle;
//! `LockTTL`, `LockWait` per lock; `LeaderNS`, `LeaderId`, `LeaderTTL` per
//! candidacy; `MemberNS` for `list_members`; `WatchNS`, `WatchId` for
//! `watch_elect`. Every builder method consumes and returns `self`.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::layout::KeyLayout;

/// Default key prefix (vine's).
pub const DEFAULT_PREFIX: &str = "/vine/sync";
/// Default etcd endpoint (vine's).
pub const DEFAULT_NODE: &str = "127.0.0.1:2379";
/// Default lock TTL: 60 s.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(60);
/// Default leader TTL: 60 s.
pub const DEFAULT_LEADER_TTL: Duration = Duration::from_secs(60);
/// Default election namespace.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Longest id, name or namespace accepted (SPEC §6: "id over 1 KiB").
pub const MAX_ID_LEN: usize = 1024;
/// Shortest TTL accepted (SPEC §6: "TTL < 1 s").
pub const MIN_TTL: Duration = Duration::from_secs(1);
/// Longest TTL accepted: etcd's own maximum lease TTL (9 000 000 000 s) is
/// far beyond anything useful; we cap at one year to keep arithmetic simple.
pub const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// TLS settings for the etcd connection (file paths, read when connecting).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOptions {
    /// PEM file with the CA certificate(s) that signed the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for mutual TLS.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
    /// Server name to verify instead of the host part of the endpoint.
    pub server_name: Option<String>,
}

impl TlsOptions {
    /// No files, the endpoint's host as server name: TLS with the system's
    /// trust roots is not configured; set at least [`TlsOptions::ca_file`].
    ///
    /// ```
    /// use vinesync::{Options, TlsOptions};
    /// let options = Options::new().nodes(["https://10.0.0.1:2379"]).tls(
    ///     TlsOptions::new()
    ///         .ca_file("/etc/etcd/ca.pem")
    ///         .identity("/etc/etcd/client.pem", "/etc/etcd/client-key.pem")
    ///         .server_name("etcd.internal"),
    /// );
    /// assert!(options.tls.is_some());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The CA certificate(s) that signed the server's certificate.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Client certificate and key for mutual TLS.
    pub fn identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.cert_file = Some(cert.into());
        self.key_file = Some(key.into());
        self
    }

    /// The server name to verify instead of the endpoint's host.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }
}

/// User and password for etcd's authentication. `Debug` hides the password.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials {
    /// The etcd user.
    pub user: String,
    /// The password; never printed, never placed in an error.
    pub password: String,
}

impl Credentials {
    /// A user and its password.
    ///
    /// ```
    /// let c = vinesync::Credentials::new("app", "s3cret");
    /// assert!(!format!("{c:?}").contains("s3cret"));
    /// ```
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Handle-wide options (vine's `Options`: `Prefix`, `Nodes`), plus the
/// connection settings vine lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Prefix of every key this handle writes (default `/vine/sync`).
    pub prefix: String,
    /// etcd endpoints, `host:port` or `http(s)://host:port` (default `127.0.0.1:2379`).
    pub nodes: Vec<String>,
    /// How long to wait for a connection to an endpoint (default 5 s).
    pub dial_timeout: Duration,
    /// How long a single request (not a lock wait) may take, retries
    /// included, before `Unavailable` (default 10 s).
    pub request_timeout: Duration,
    /// TLS / mutual TLS; `None` = plain TCP.
    pub tls: Option<TlsOptions>,
    /// etcd user/password authentication; `None` = no auth.
    pub credentials: Option<Credentials>,
    /// Where locks and candidates go: vinesync's layout (the default) or
    /// vine's, for a fleet that still runs vine processes (README,
    /// "Migrating from vine").
    pub layout: KeyLayout,
    /// Whether the prefix was set explicitly ([`Options::prefix`]): if not,
    /// each layout has its own default prefix (vinesync's `/vine/sync`,
    /// vine's empty one), whatever order the options are set in.
    pub(crate) prefix_explicit: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prefix: DEFAULT_PREFIX.to_string(),
            nodes: vec![DEFAULT_NODE.to_string()],
            dial_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            tls: None,
            credentials: None,
            layout: KeyLayout::Vinesync,
            prefix_explicit: false,
        }
    }
}

impl Options {
    /// The defaults (vine's).
    pub fn new() -> Self {
        Self::default()
    }

    /// vine's `Prefix`. Set explicitly, it stays whatever layout is
    /// chosen, before or after.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.set_prefix(prefix);
        self
    }

    /// [`Options::prefix`] in place.
    pub fn set_prefix(&mut self, prefix: impl Into<String>) {
        self.prefix = prefix.into();
        self.prefix_explicit = true;
    }

    /// vine's `Nodes`.
    pub fn nodes<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.nodes = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// The key layout. Under [`KeyLayout::Vine`] the prefix is vine's
    /// `Prefix`: empty (vine's default) unless one was set explicitly with
    /// [`Options::prefix`], before or after this call; under
    /// [`KeyLayout::Vinesync`] the default is `/vine/sync`.
    ///
    /// ```
    /// use vinesync::{KeyLayout, Options};
    /// let options = Options::new().layout(KeyLayout::Vine);
    /// assert_eq!(options.prefix, "");
    /// let options = Options::new().prefix("/app").layout(KeyLayout::Vine);
    /// assert_eq!(options.prefix, "/app");
    /// ```
    pub fn layout(mut self, layout: KeyLayout) -> Self {
        self.set_layout(layout);
        self
    }

    /// [`Options::layout`] in place.
    pub fn set_layout(&mut self, layout: KeyLayout) {
        self.layout = layout;
        if !self.prefix_explicit {
            self.prefix = match layout {
                KeyLayout::Vine => String::new(),
                KeyLayout::Vinesync => DEFAULT_PREFIX.to_string(),
            };
        }
    }

    /// Connection timeout per endpoint.
    pub fn dial_timeout(mut self, timeout: Duration) -> Self {
        self.dial_timeout = timeout;
        self
    }

    /// Deadline of one request, retries included.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// TLS settings.
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// User/password authentication.
    pub fn credentials(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some(Credentials {
            user: user.into(),
            password: password.into(),
        });
        self
    }

    /// Options from the environment, over the defaults:
    /// `VINESYNC_PREFIX`, `VINESYNC_NODES` (comma-separated),
    /// `VINESYNC_DIAL_TIMEOUT_MS`, `VINESYNC_REQUEST_TIMEOUT_MS`,
    /// `VINESYNC_CACERT`, `VINESYNC_CERT`, `VINESYNC_KEY`,
    /// `VINESYNC_SERVER_NAME`, `VINESYNC_USER`, `VINESYNC_PASSWORD`,
    /// `VINESYNC_LAYOUT` (`vinesync` or `vine`; under `vine` the prefix is
    /// vine's default, empty, unless `VINESYNC_PREFIX` is set).
    pub fn from_env() -> Result<Self> {
        let mut options = Options::default();
        // Unset or empty: not given. Not UTF-8: an error naming it (not a
        // silent default, which could share another user's prefix).
        let var = |name: &str| match std::env::var(name) {
            Ok(value) => Ok(Some(value).filter(|v| !v.is_empty())),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(Error::invalid(format!("{name} is not valid UTF-8")))
            }
        };
        // File names need not be UTF-8.
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(layout) = var("VINESYNC_LAYOUT")? {
            options.set_layout(layout.parse().map_err(|_| {
                Error::invalid(format!(
                    "VINESYNC_LAYOUT={layout:?} is unknown: use \"vinesync\" (the default) or \"vine\""
                ))
            })?);
        }
        if let Some(prefix) = var("VINESYNC_PREFIX")? {
            options.set_prefix(prefix);
        }
        if let Some(nodes) = var("VINESYNC_NODES")? {
            options.nodes = nodes
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(String::from)
                .collect();
        }
        for (name, slot) in [
            ("VINESYNC_DIAL_TIMEOUT_MS", &mut options.dial_timeout),
            ("VINESYNC_REQUEST_TIMEOUT_MS", &mut options.request_timeout),
        ] {
            if let Some(text) = var(name)? {
                *slot = env_millis(name, &text)?;
            }
        }
        let tls = TlsOptions {
            ca_file: path("VINESYNC_CACERT"),
            cert_file: path("VINESYNC_CERT"),
            key_file: path("VINESYNC_KEY"),
            server_name: var("VINESYNC_SERVER_NAME")?,
        };
        if tls != TlsOptions::default() {
            options.tls = Some(tls);
        }
        let password = var("VINESYNC_PASSWORD")?;
        match (var("VINESYNC_USER")?, password) {
            (Some(user), password) => {
                options.credentials = Some(Credentials {
                    user,
                    password: password.unwrap_or_default(),
                });
            }
            (None, Some(_)) => {
                return Err(Error::invalid(
                    "VINESYNC_PASSWORD is set but VINESYNC_USER is not: give the user too",
                ))
            }
            (None, None) => {}
        }
        options.validate()?;
        Ok(options)
    }

    /// Checks every field; the error names the field and the value.
    pub fn validate(&self) -> Result<()> {
        match self.layout {
            KeyLayout::Vinesync => {
                if self.prefix.is_empty() {
                    return Err(Error::invalid("Prefix must not be empty"));
                }
                if !self.prefix.starts_with('/') {
                    return Err(Error::invalid(format!(
                        "Prefix {:?} must start with '/'",
                        self.prefix
                    )));
                }
                check_text("Prefix", &self.prefix)?;
            }
            // vine uses its Prefix as given, empty by default.
            KeyLayout::Vine if self.prefix.is_empty() => {}
            KeyLayout::Vine => check_text("Prefix", &self.prefix)?,
        }
        if self.nodes.is_empty() {
            return Err(Error::invalid("Nodes must name at least one endpoint"));
        }
        for node in &self.nodes {
            check_node(node)?;
        }
        if self.dial_timeout.is_zero() {
            return Err(Error::invalid("dial timeout must be greater than zero"));
        }
        if self.request_timeout.is_zero() {
            return Err(Error::invalid("request timeout must be greater than zero"));
        }
        if let Some(tls) = &self.tls {
            if tls.cert_file.is_some() != tls.key_file.is_some() {
                return Err(Error::invalid(
                    "TLS client certificate and key must be given together",
                ));
            }
        }
        if let Some(credentials) = &self.credentials {
            if credentials.user.is_empty() {
                return Err(Error::invalid("etcd user must not be empty"));
            }
        }
        Ok(())
    }

    /// The prefix without a trailing '/', so keys join with exactly one '/'.
    pub(crate) fn trimmed_prefix(&self) -> &str {
        let trimmed = self.prefix.trim_end_matches('/');
        if trimmed.is_empty() {
            ""
        } else {
            trimmed
        }
    }
}

fn check_node(node: &str) -> Result<()> {
    let rest = node
        .strip_prefix("http://")
        .or_else(|| node.strip_prefix("https://"))
        .unwrap_or(node);
    // `user:password@host:port`: not echoed, it may hold a password.
    if let Some((_, host)) = rest.rsplit_once('@') {
        return Err(Error::invalid(format!(
            "node \"…@{host}\" holds user information: give the user and password as \
             credentials (VINESYNC_USER, VINESYNC_PASSWORD), not in the endpoint"
        )));
    }
    let host_name = |host: &str| {
        // A name or IPv4 address, or an IPv6 address in brackets.
        let ipv6 = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.'))
            });
        ipv6 || (!host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    };
    let valid = match rest.rsplit_once(':') {
        Some((host, port)) => host_name(host) && port.parse::<u16>().is_ok_and(|p| p != 0),
        None => false,
    };
    if !valid {
        return Err(Error::invalid(format!(
            "node {node:?} is not an endpoint of the form host:port or http(s)://host:port"
        )));
    }
    Ok(())
}

/// Ids, names and namespaces: non-empty, no NUL, at most 1 KiB.
pub(crate) fn check_text(what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if value.len() > MAX_ID_LEN {
        return Err(Error::invalid(format!(
            "{what} is {} bytes long; the limit is {MAX_ID_LEN} bytes",
            value.len()
        )));
    }
    if value.contains('\0') {
        return Err(Error::invalid(format!(
            "{what} {:?} contains a NUL character",
            shorten(value)
        )));
    }
    Ok(())
}

pub(crate) fn check_ttl(what: &str, ttl: Duration) -> Result<()> {
    if ttl < MIN_TTL {
        return Err(Error::invalid(format!(
            "{what} {ttl:?} is shorter than the minimum of 1s"
        )));
    }
    if ttl > MAX_TTL {
        return Err(Error::invalid(format!(
            "{what} {ttl:?} is longer than the maximum of {MAX_TTL:?}"
        )));
    }
    Ok(())
}

/// Leases have whole seconds; round a TTL up so the lock never lives shorter
/// than asked.
pub(crate) fn ttl_seconds(ttl: Duration) -> i64 {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn shorten(value: &str) -> String {
    value.chars().take(64).collect()
}

/// Per-lock options: vine's `LockTTL` and `LockWait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockOptions {
    /// Lease TTL of the lock (default 60 s, minimum 1 s).
    pub ttl: Duration,
    /// How long `lock` may wait; `None` (vine's 0) waits until cancelled.
    pub wait: Option<Duration>,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            ttl: DEFAULT_LOCK_TTL,
            wait: None,
        }
    }
}

impl LockOptions {
    /// The defaults: TTL 60 s, no wait limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// vine's `LockTTL`.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// vine's `LockWait`: how long `lock` waits before `LockTimeout`.
    /// Without it (the default) `lock` waits until it gets the lock or its
    /// future is dropped. `Duration::ZERO` tries once: `LockTimeout` at
    /// once if the lock is held (vine's `LockWait(0)` means "no limit"
    /// instead; the Go package keeps vine's meaning, see the README).
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        check_ttl("LockTTL", self.ttl)
    }
}

/// Candidacy options: vine's `LeaderNS`, `LeaderId`, `LeaderTTL`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaderOptions {
    /// Election namespace (default `default`).
    pub namespace: String,
    /// This candidate's id (default: a new UUID v4).
    pub id: Option<String>,
    /// Lease TTL (default 60 s, minimum 1 s; rounded up to whole seconds,
    /// as etcd leases count seconds).
    pub ttl: Duration,
}

impl Default for LeaderOptions {
    fn default() -> Self {
        LeaderOptions {
            namespace: DEFAULT_NAMESPACE.to_string(),
            id: None,
            ttl: DEFAULT_LEADER_TTL,
        }
    }
}

impl LeaderOptions {
    /// The defaults: namespace `default`, a fresh UUID, TTL 60 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// vine's `LeaderNS`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// vine's `LeaderId`.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// vine's `LeaderTTL`.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        check_text("LeaderNS", &self.namespace)?;
        if let Some(id) = &self.id {
            check_text("LeaderId", id)?;
        }
        check_ttl("LeaderTTL", self.ttl)
    }
}

/// `list_members` options: vine's `MemberNS`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberOptions {
    /// Election namespace (default `default`).
    pub namespace: String,
}

impl Default for MemberOptions {
    fn default() -> Self {
        MemberOptions {
            namespace: DEFAULT_NAMESPACE.to_string(),
        }
    }
}

impl MemberOptions {
    /// The defaults: namespace `default`.
    pub fn new() -> Self {
        Self::default()
    }

    /// vine's `MemberNS`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }
}

/// `watch_elect` options: vine's `WatchNS` and `WatchId`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchOptions {
    /// Election namespace (default `default`).
    pub namespace: String,
    /// Only events about this member id (default: every member).
    pub id: Option<String>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            namespace: DEFAULT_NAMESPACE.to_string(),
            id: None,
        }
    }
}

impl WatchOptions {
    /// The defaults: namespace `default`, every member.
    pub fn new() -> Self {
        Self::default()
    }

    /// vine's `WatchNS`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// vine's `WatchId`.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        check_text("WatchNS", &self.namespace)?;
        if let Some(id) = &self.id {
            check_text("WatchId", id)?;
        }
        Ok(())
    }
}

/// A `VINESYNC_*_MS` value: a whole number of milliseconds. More digits
/// than fit are too large for the clock, which means no limit, as a huge
/// timeout given in code does.
fn env_millis(name: &str, text: &str) -> Result<Duration> {
    match text.parse::<u64>() {
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => {
            Ok(Duration::from_millis(u64::MAX))
        }
        Err(_) => Err(Error::invalid(format!(
            "{name}={text:?} is not a whole number of milliseconds"
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn env_milliseconds_too_large_for_the_clock_mean_no_limit() {
        let name = "VINESYNC_DIAL_TIMEOUT_MS";
        assert_eq!(
            env_millis(name, "1500").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            env_millis(name, "99999999999999999999999").unwrap(),
            Duration::from_millis(u64::MAX)
        );
        for bad in ["soon", "-1", "1.5", ""] {
            let error = env_millis(name, bad).unwrap_err();
            assert!(error.message().contains(name), "{bad:?}: {error}");
        }
    }

    #[test]
    fn defaults_are_vines() {
        let o = Options::default();
        assert_eq!(o.prefix, "/vine/sync");
        assert_eq!(o.nodes, vec!["127.0.0.1:2379"]);
        assert_eq!(LockOptions::default().ttl, Duration::from_secs(60));
        assert_eq!(LockOptions::default().wait, None);
        assert_eq!(LeaderOptions::default().ttl, Duration::from_secs(60));
        assert_eq!(LeaderOptions::default().namespace, "default");
        assert_eq!(MemberOptions::default().namespace, "default");
        assert_eq!(WatchOptions::default().id, None);
        o.validate().unwrap();
    }

    #[test]
    fn bad_nodes_are_named() {
        for bad in [
            "",
            "localhost",
            "host:0",
            "host:99999",
            "a b:1",
            "http://x:1/path",
            "x?y:1",
            "[]:1",
            "http://[a/b]:1",
            "[ ]:1",
        ] {
            let err = Options::new().nodes([bad]).validate().unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
            assert!(err.message().contains(bad), "{err}");
        }
        // User information is refused without repeating the password.
        for bad in [
            "root:hunter2@127.0.0.1:2379",
            "http://root:hunter2@etcd:2379",
        ] {
            let err = Options::new().nodes([bad]).validate().unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
            assert!(!err.message().contains("hunter2"), "{err}");
            assert!(err.message().contains("credentials"), "{err}");
        }
        Options::new()
            .nodes([
                "127.0.0.1:2379",
                "http://[::1]:2379",
                "https://etcd:1",
                "etcd-0.etcd_svc.local:2379",
            ])
            .validate()
            .unwrap();
    }

    #[test]
    fn ttl_rounds_up_to_seconds() {
        assert_eq!(ttl_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(ttl_seconds(Duration::from_secs(3)), 3);
    }

    #[test]
    fn vine_layout_default_prefix_is_empty_in_any_order() {
        assert_eq!(Options::new().layout(KeyLayout::Vine).prefix, "");
        assert_eq!(
            Options::new()
                .layout(KeyLayout::Vine)
                .layout(KeyLayout::Vinesync)
                .prefix,
            DEFAULT_PREFIX
        );
        for explicit in ["", "/vine/sync", "/app"] {
            let before = Options::new().prefix(explicit).layout(KeyLayout::Vine);
            let after = Options::new().layout(KeyLayout::Vine).prefix(explicit);
            assert_eq!(before.prefix, explicit);
            assert_eq!(after.prefix, explicit);
            assert_eq!(
                Options::new()
                    .prefix(explicit)
                    .layout(KeyLayout::Vine)
                    .layout(KeyLayout::Vinesync)
                    .prefix,
                explicit
            );
        }
    }

    #[test]
    fn vine_layout_accepts_vines_prefixes() {
        let vine = Options::new().layout(KeyLayout::Vine);
        vine.clone().prefix("").validate().unwrap();
        vine.clone().prefix("no-slash").validate().unwrap();
        assert!(vine.prefix("a\0b").validate().is_err());
        assert!(Options::new().prefix("").validate().is_err());
    }

    #[test]
    fn credentials_debug_hides_password() {
        let o = Options::new().credentials("root", "hunter2");
        assert!(!format!("{o:?}").contains("hunter2"));
    }
}
