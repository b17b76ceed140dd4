//! `LockGuard`: a held lock with its fencing token and lost signal.
//!
//! The lock belongs to the `Sync` (SPEC L3), as in vine: a guard that is
//! garbage-collected leaves the lock held until `Sync.unlock(id)` or
//! `Sync.close()`. Leaving a `with` block, `unlock()` and `Sync.unlock(id)`
//! release it.

use std::sync::{Mutex, OnceLock};

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tokio::sync::watch;
use vinesync::{Error, ErrorKind};

use crate::args::seconds;
use crate::errors::to_py;
use crate::process::Origin;
use crate::runtime::{awaitable, wait, wait_for};
use crate::sync::Sync;

/// A held lock (SPEC L1–L7). Use it as a context manager (`with`, or
/// `async with`) to release it on exit.
#[pyclass(frozen, module = "vinesync")]
pub struct LockGuard {
    /// Keeps the `Sync` alive (and open) while the guard exists.
    _owner: Py<Sync>,
    origin: Origin,
    id: String,
    key: String,
    fencing_token: u64,
    lease: i64,
    /// The lost signal, subscribed on first use: watching the key costs a
    /// task and a watch, which most guards never need.
    lost: OnceLock<watch::Receiver<bool>>,
    guard: Mutex<Option<vinesync::LockGuard>>,
}

impl LockGuard {
    pub fn new(guard: vinesync::LockGuard, owner: Py<Sync>) -> Self {
        LockGuard {
            _owner: owner,
            origin: Origin::here(),
            id: guard.id().to_string(),
            key: guard.key().to_string(),
            fencing_token: guard.fencing_token(),
            lease: guard.lease(),
            lost: OnceLock::new(),
            guard: Mutex::new(Some(guard)),
        }
    }

    /// The lost signal; a guard already released reads as lost.
    fn lost_signal(&self) -> watch::Receiver<bool> {
        self.lost
            .get_or_init(|| {
                let guard = self.guard.lock().unwrap_or_else(|p| p.into_inner());
                match guard.as_ref() {
                    Some(guard) => guard.lost_signal(),
                    None => watch::channel(true).1,
                }
            })
            .clone()
    }

    fn take(&self) -> Option<vinesync::LockGuard> {
        self.guard.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The release, as a future: `NotLocked` if this guard already released.
    fn release(&self) -> impl std::future::Future<Output = vinesync::Result<()>> + Send + 'static {
        let guard = self.take();
        let id = self.id.clone();
        async move {
            match guard {
                Some(guard) => guard.unlock().await,
                None => Err(Error::new(
                    ErrorKind::NotLocked,
                    format!("lock {id:?}: this guard was already released"),
                )),
            }
        }
    }

    /// The release on leaving a `with` block: released already is fine;
    /// `Lost` is raised unless another exception is on its way out.
    fn release_on_exit(
        &self,
        exception_pending: bool,
    ) -> impl std::future::Future<Output = vinesync::Result<()>> + Send + 'static {
        let release = self.release();
        async move {
            match release.await {
                Err(e) if e.kind() == ErrorKind::NotLocked => Ok(()),
                Err(e) if e.kind() == ErrorKind::Lost && exception_pending => Ok(()),
                other => other,
            }
        }
    }

    fn lost_future(
        &self,
    ) -> impl std::future::Future<Output = vinesync::Result<()>> + Send + 'static {
        let mut lost = self.lost_signal();
        async move {
            let _ = lost.wait_for(|lost| *lost).await;
            Ok(())
        }
    }
}

#[pymethods]
impl LockGuard {
    /// The lock id.
    #[getter]
    fn id(&self) -> &str {
        &self.id
    }

    /// The key this acquisition wrote.
    #[getter]
    fn key(&self) -> &str {
        &self.key
    }

    /// Strictly greater than the token of every earlier holder of this lock
    /// (SPEC L5): pass it to the resource and have it reject smaller ones.
    #[getter]
    fn fencing_token(&self) -> u64 {
        self.fencing_token
    }

    /// The lease the key is attached to.
    #[getter]
    fn lease(&self) -> i64 {
        self.lease
    }

    /// Whether the lock is known lost (lease expired or key deleted: SPEC
    /// L6). Stop acting on the resource when it is.
    #[getter]
    fn is_lost(&self) -> bool {
        let lost = *self.lost_signal().borrow();
        lost
    }

    /// Waits until the lock is lost: `True`, or `False` when `timeout`
    /// seconds pass first (`None`: no limit).
    #[pyo3(signature = (timeout = None))]
    fn wait_lost(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        self.origin.check(py, "LockGuard")?;
        let limit = seconds("timeout", timeout).map_err(|e| to_py(py, &e))?;
        Ok(wait_for(py, limit, self.lost_future())?.is_some())
    }

    /// `wait_lost` for asyncio.
    #[pyo3(signature = (timeout = None))]
    fn wait_lost_async<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.origin.check(py, "LockGuard")?;
        let limit = seconds("timeout", timeout).map_err(|e| to_py(py, &e))?;
        let lost = self.lost_future();
        awaitable(
            py,
            async move {
                match limit {
                    Some(limit) => Ok(tokio::time::timeout(limit, lost).await.is_ok()),
                    None => lost.await.map(|()| true),
                }
            },
            |py, lost| {
                Ok(pyo3::types::PyBool::new(py, lost)
                    .to_owned()
                    .into_any()
                    .unbind())
            },
        )
    }

    /// Releases the lock (SPEC L7). `NotLocked` if it was already released
    /// (by this guard or `Sync.unlock`), `Lost` if it had been lost.
    fn unlock(&self, py: Python<'_>) -> PyResult<()> {
        self.origin.check(py, "LockGuard")?;
        wait(py, self.release())
    }

    /// `unlock` for asyncio.
    fn unlock_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.origin.check(py, "LockGuard")?;
        awaitable(py, self.release(), |py, ()| Ok(py.None()))
    }

    /// Releases the lock in the background; for a result nobody will see
    /// (an acquisition that completed after its asyncio task was cancelled).
    fn _abandon(&self) {
        drop(self.take());
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (exc_type, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.origin.check(py, "LockGuard")?;
        let pending = exc_type.is_some_and(|t| !t.is_none());
        wait(py, self.release_on_exit(pending))?;
        Ok(false)
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let me = slf.unbind();
        awaitable(py, async { Ok(()) }, move |_, ()| Ok(me.into_any()))
    }

    #[pyo3(signature = (*exc))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        exc: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.origin.check(py, "LockGuard")?;
        let pending = match exc.get_item(0) {
            Ok(t) => !t.is_none(),
            Err(_) => false,
        };
        awaitable(py, self.release_on_exit(pending), |py, ()| {
            Ok(pyo3::types::PyBool::new(py, false)
                .to_owned()
                .into_any()
                .unbind())
        })
    }

    fn __repr__(&self) -> String {
        let released = self
            .guard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none();
        let state = if released {
            "released"
        } else if self.is_lost() {
            "lost"
        } else {
            "held"
        };
        format!(
            "<vinesync.LockGuard id={:?} fencing_token={} {state}>",
            self.id, self.fencing_token
        )
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Held by the Sync until `Sync.unlock(id)` (vine's behaviour).
        if let Some(guard) = self.take() {
            guard.detach();
        }
    }
}
