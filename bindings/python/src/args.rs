//! Python arguments to core options: seconds as floats, connection keyword
//! arguments. Bad values become `InvalidArgument` naming the argument.

use std::path::PathBuf;
use std::time::Duration;

use vinesync::{Credentials, KeyLayout, Options, TlsOptions};

use crate::errors::invalid;

/// `value` seconds as a `Duration`; `None` stays `None`.
pub fn seconds(name: &str, value: Option<f64>) -> vinesync::Result<Option<Duration>> {
    let Some(value) = value else {
        return Ok(None);
    };
    Duration::try_from_secs_f64(value).map(Some).map_err(|_| {
        let what = if value.is_finite() && value > 0.0 {
            "too large"
        } else {
            "negative, NaN or infinite"
        };
        // 1e300 is not printed with its 300 digits.
        let shown = if value.abs() < 1e15 {
            format!("{value}")
        } else {
            format!("{value:e}")
        };
        invalid(format!(
            "{name}={shown} is not a number of seconds ≥ 0 ({what})"
        ))
    })
}

/// The connection keyword arguments of `Sync.etcd()` and `Sync.init()`;
/// `None` keeps the current value.
#[derive(Debug, Default)]
pub struct ConnectArgs {
    pub prefix: Option<String>,
    /// `"vinesync"` (the default) or `"vine"` (vine 1.5's keys).
    pub layout: Option<String>,
    pub nodes: Option<Vec<String>>,
    pub dial_timeout: Option<f64>,
    pub request_timeout: Option<f64>,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub server_name: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl ConnectArgs {
    /// `base` with the given arguments applied (not yet validated: the core
    /// validates every field when the options are used).
    pub fn apply(self, mut base: Options) -> vinesync::Result<Options> {
        if let Some(layout) = &self.layout {
            let layout: KeyLayout = layout.parse().map_err(|_| {
                invalid(format!(
                    "layout={layout:?} is unknown: use \"vinesync\" (the default) or \"vine\""
                ))
            })?;
            // Without an explicit prefix (argument, or VINESYNC_PREFIX in
            // `base` from the environment), each layout gets its own
            // default: vine's plugin uses an empty prefix when the program
            // sets none.
            base.set_layout(layout);
        }
        if let Some(prefix) = self.prefix {
            base.set_prefix(prefix);
        }
        if let Some(nodes) = self.nodes {
            base.nodes = nodes;
        }
        if let Some(timeout) = seconds("dial_timeout", self.dial_timeout)? {
            base.dial_timeout = timeout;
        }
        if let Some(timeout) = seconds("request_timeout", self.request_timeout)? {
            base.request_timeout = timeout;
        }
        if self.ca_file.is_some()
            || self.cert_file.is_some()
            || self.key_file.is_some()
            || self.server_name.is_some()
        {
            let mut tls: TlsOptions = base.tls.take().unwrap_or_default();
            tls.ca_file = self.ca_file.or(tls.ca_file);
            tls.cert_file = self.cert_file.or(tls.cert_file);
            tls.key_file = self.key_file.or(tls.key_file);
            tls.server_name = self.server_name.or(tls.server_name);
            base.tls = Some(tls);
        }
        match (self.user, self.password) {
            (Some(user), password) => {
                base.credentials = Some(Credentials::new(user, password.unwrap_or_default()));
            }
            (None, Some(_)) if base.credentials.is_none() => {
                return Err(invalid("password given without user"));
            }
            (None, Some(password)) => {
                if let Some(credentials) = base.credentials.as_mut() {
                    credentials.password = password;
                }
            }
            (None, None) => {}
        }
        Ok(base)
    }
}
