//! Lock inspection: `Sync.lock_info(id)` returns a `LockInfo` (holder and
//! waiters) read from the store; nothing is written.

use pyo3::prelude::*;
use vinesync::Client;

use crate::runtime::wait;

/// One acquisition of a lock, holding or waiting.
#[pyclass(frozen, eq, hash, module = "vinesync")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LockEntry {
    /// The key it wrote.
    #[pyo3(get)]
    key: String,
    /// The fencing token it has or will have (its key's create revision).
    #[pyo3(get)]
    fencing_token: u64,
    /// The lease its key is attached to.
    #[pyo3(get)]
    lease: i64,
    /// Host of the process; `None` when another tool wrote the key.
    #[pyo3(get)]
    host: Option<String>,
    /// Process id; `None` when another tool wrote the key.
    #[pyo3(get)]
    pid: Option<u32>,
    /// The vinesync handle's id; `None` when another tool wrote the key.
    #[pyo3(get)]
    handle: Option<String>,
    /// The raw value of a key another tool wrote (`""` for `etcdctl lock`).
    #[pyo3(get)]
    value: Option<String>,
}

impl From<vinesync::LockEntry> for LockEntry {
    fn from(e: vinesync::LockEntry) -> Self {
        LockEntry {
            key: e.key,
            fencing_token: e.fencing_token,
            lease: e.lease,
            host: e.host,
            pid: e.pid,
            handle: e.handle,
            value: e.value,
        }
    }
}

#[pymethods]
impl LockEntry {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        // Python's spelling of each value (not Rust's `Some(..)`).
        let key = self.key.clone().into_pyobject(py)?.repr()?;
        let host = self.host.clone().into_pyobject(py)?.repr()?;
        let pid = self.pid.into_pyobject(py)?.repr()?;
        Ok(format!(
            "LockEntry(key={key}, fencing_token={}, host={host}, pid={pid})",
            self.fencing_token
        ))
    }
}

/// A lock's holder (`None` when free) and its waiters, next one first.
#[pyclass(frozen, module = "vinesync")]
pub struct LockInfo {
    /// The lock id.
    #[pyo3(get)]
    id: String,
    /// The acquisition holding the lock, or `None`.
    #[pyo3(get)]
    holder: Option<LockEntry>,
    /// The acquisitions waiting, next one first.
    #[pyo3(get)]
    waiters: Vec<LockEntry>,
}

#[pymethods]
impl LockInfo {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let id = self.id.clone().into_pyobject(py)?.repr()?;
        let holder = match &self.holder {
            Some(holder) => holder.__repr__(py)?,
            None => "None".to_string(),
        };
        Ok(format!(
            "LockInfo(id={id}, holder={holder}, waiters={})",
            self.waiters.len()
        ))
    }
}

/// `Sync.lock_info`: reads lock `id`, releasing the GIL while it waits.
pub fn lock_info(py: Python<'_>, client: Client, id: String) -> PyResult<LockInfo> {
    let info = wait(py, async move { client.lock_info(&id).await })?;
    Ok(LockInfo::from(info))
}

/// `lock_info` for asyncio.
pub fn lock_info_async(py: Python<'_>, client: Client, id: String) -> PyResult<Bound<'_, PyAny>> {
    crate::runtime::awaitable(
        py,
        async move { client.lock_info(&id).await },
        |py, info| Ok(Py::new(py, LockInfo::from(info))?.into_any()),
    )
}

impl From<vinesync::LockInfo> for LockInfo {
    fn from(info: vinesync::LockInfo) -> Self {
        LockInfo {
            id: info.id,
            holder: info.holder.map(LockEntry::from),
            waiters: info.waiters.into_iter().map(LockEntry::from).collect(),
        }
    }
}
