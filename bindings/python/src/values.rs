//! Small immutable value objects: `Member`, `ElectEvent`, `ObserveResult`
//! and `Options`, each with a useful `repr` and equality.

use pyo3::prelude::*;

/// One candidate of an election (vine's `Member`).
#[pyclass(frozen, eq, hash, module = "vinesync")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Member {
    /// The election name the candidate gave to `leader`.
    #[pyo3(get)]
    leader: String,
    /// The candidate's id (`LeaderId`).
    #[pyo3(get)]
    id: String,
    /// The election namespace.
    #[pyo3(get)]
    namespace: String,
    /// `"primary"` or `"follow"`, when it was read.
    #[pyo3(get)]
    role: &'static str,
}

impl From<vinesync::Member> for Member {
    fn from(m: vinesync::Member) -> Self {
        Member {
            leader: m.leader,
            id: m.id,
            namespace: m.namespace,
            role: m.role.as_str(),
        }
    }
}

#[pymethods]
impl Member {
    /// Whether the member was the primary when it was read.
    #[getter]
    fn is_primary(&self) -> bool {
        self.role == "primary"
    }

    fn __repr__(&self) -> String {
        format!(
            "Member(leader={:?}, id={:?}, namespace={:?}, role={:?})",
            self.leader, self.id, self.namespace, self.role
        )
    }
}

/// One election event (SPEC E8): what happened to which member.
#[pyclass(frozen, eq, hash, module = "vinesync")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ElectEvent {
    /// `"joined"`, `"left"` or `"elected"`.
    #[pyo3(get)]
    kind: &'static str,
    /// The member, with its role right after the event.
    #[pyo3(get)]
    member: Member,
    /// The store revision of the change.
    #[pyo3(get)]
    revision: i64,
}

impl From<vinesync::ElectEvent> for ElectEvent {
    fn from(e: vinesync::ElectEvent) -> Self {
        ElectEvent {
            kind: e.kind.as_str(),
            member: e.member.into(),
            revision: e.revision,
        }
    }
}

#[pymethods]
impl ElectEvent {
    fn __repr__(&self) -> String {
        format!(
            "ElectEvent(kind={:?}, member={}, revision={})",
            self.kind,
            self.member.__repr__(),
            self.revision
        )
    }
}

/// A change of primary seen by `Leader.observe()` (vine's `ObserveResult`).
#[pyclass(frozen, eq, hash, module = "vinesync")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ObserveResult {
    /// The namespace.
    #[pyo3(get)]
    namespace: String,
    /// The id of the new primary.
    #[pyo3(get)]
    id: String,
}

impl From<vinesync::ObserveResult> for ObserveResult {
    fn from(o: vinesync::ObserveResult) -> Self {
        ObserveResult {
            namespace: o.namespace,
            id: o.id,
        }
    }
}

#[pymethods]
impl ObserveResult {
    fn __repr__(&self) -> String {
        format!(
            "ObserveResult(namespace={:?}, id={:?})",
            self.namespace, self.id
        )
    }
}

/// A handle's options as `Sync.options()` reads them back. The password is
/// never exposed: `has_password` says whether one is set.
#[pyclass(frozen, module = "vinesync")]
pub struct Options {
    /// Prefix of every key the handle writes.
    #[pyo3(get)]
    prefix: String,
    /// etcd endpoints.
    #[pyo3(get)]
    nodes: Vec<String>,
    /// Connection timeout per endpoint, in seconds.
    #[pyo3(get)]
    dial_timeout: f64,
    /// Deadline of one request (retries included), in seconds.
    #[pyo3(get)]
    request_timeout: f64,
    /// CA certificate file (TLS).
    #[pyo3(get)]
    ca_file: Option<String>,
    /// Client certificate file (mutual TLS).
    #[pyo3(get)]
    cert_file: Option<String>,
    /// Client key file (mutual TLS).
    #[pyo3(get)]
    key_file: Option<String>,
    /// TLS server name override.
    #[pyo3(get)]
    server_name: Option<String>,
    /// etcd user.
    #[pyo3(get)]
    user: Option<String>,
    /// Whether a password is set.
    #[pyo3(get)]
    has_password: bool,
}

impl From<vinesync::Options> for Options {
    fn from(o: vinesync::Options) -> Self {
        let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let tls = o.tls.clone().unwrap_or_default();
        Options {
            prefix: o.prefix,
            nodes: o.nodes,
            dial_timeout: o.dial_timeout.as_secs_f64(),
            request_timeout: o.request_timeout.as_secs_f64(),
            ca_file: path(&tls.ca_file),
            cert_file: path(&tls.cert_file),
            key_file: path(&tls.key_file),
            server_name: tls.server_name,
            user: o.credentials.as_ref().map(|c| c.user.clone()),
            has_password: o.credentials.is_some_and(|c| !c.password.is_empty()),
        }
    }
}

#[pymethods]
impl Options {
    fn __repr__(&self) -> String {
        let mut text = format!("Options(prefix={:?}, nodes={:?}", self.prefix, self.nodes);
        for (name, value) in [
            ("ca_file", &self.ca_file),
            ("cert_file", &self.cert_file),
            ("key_file", &self.key_file),
            ("server_name", &self.server_name),
            ("user", &self.user),
        ] {
            if let Some(value) = value {
                text.push_str(&format!(", {name}={value:?}"));
            }
        }
        if self.has_password {
            text.push_str(", password=<hidden>");
        }
        text.push(')');
        text
    }
}
