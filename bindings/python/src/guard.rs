//! `LockGuard`: a held lock with its fencing token and lost signal.
//!
//! The lock belongs to the `Sync` (SPEC L3), as in vine: a guard that is
//! garbage-collected leaves the lock held until `Sync.unlock(id)` or
//! `Sync.close()` (H6). Leaving a `with` block, `unlock()` and
//! `Sync.unlock(id)` release it; a release runs to completion even when the
//! caller is interrupted or cancelled (H2).

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use vinesync::ErrorKind;

use crate::args::seconds;
use crate::errors::to_py;
use crate::held::{Held, State};
use crate::process::Origin;
use crate::runtime::{awaitable, awaitable_release, wait_for, wait_release};
use crate::sync::Sync;

/// A held lock (SPEC L1–L7). Use it as a context manager (`with`, or
/// `async with`) to release it on exit.
#[pyclass(frozen, weakref, module = "vinesync")]
pub struct LockGuard {
    /// Keeps the `Sync` alive (and open) while the guard exists.
    _owner: Py<Sync>,
    origin: Origin,
    id: String,
    key: String,
    fencing_token: u64,
    lease: i64,
    held: Arc<Held>,
}

impl LockGuard {
    pub fn new(owner: Py<Sync>, held: Arc<Held>) -> Self {
        LockGuard {
            _owner: owner,
            origin: Origin::here(),
            id: held.id.clone(),
            key: held.key.clone(),
            fencing_token: held.fencing_token,
            lease: held.lease,
            held,
        }
    }

    /// The release on leaving a `with` block: released already is fine;
    /// `Lost` is raised unless another exception is on its way out.
    fn release_on_exit(
        &self,
        exception_pending: bool,
    ) -> impl std::future::Future<Output = vinesync::Result<()>> + Send + 'static {
        let release = self.held.release();
        async move {
            match release.await {
                Err(e) if e.kind() == ErrorKind::NotLocked => Ok(()),
                Err(e) if e.kind() == ErrorKind::Lost && exception_pending => Ok(()),
                other => other,
            }
        }
    }

    /// Resolves with whether the lock was lost: at once for a released
    /// guard, else when the lost signal turns.
    fn lost_future(
        &self,
    ) -> impl std::future::Future<Output = vinesync::Result<bool>> + Send + 'static {
        let mut lost = self.held.lost_signal();
        let released = self.held.is_released();
        let released_as = self.held.released_as();
        async move {
            if released {
                return Ok(*lost.borrow());
            }
            // The signal ends without `true` on a release.
            let turned = lost.wait_for(|lost| *lost).await.is_ok();
            // Released meanwhile (an unlock, or closing the Sync, whose
            // revoke also turns the signal): lost only if it was before.
            let released_as = *released_as.lock().unwrap_or_else(|p| p.into_inner());
            Ok(released_as.unwrap_or(turned))
        }
    }
}

fn py_bool(py: Python<'_>, value: bool) -> Py<PyAny> {
    pyo3::types::PyBool::new(py, value)
        .to_owned()
        .into_any()
        .unbind()
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

    /// `"held"`, `"released"` (by this guard, `Sync.unlock(id)` or
    /// `Sync.close()`) or `"lost"` (lease expired or key deleted while held).
    #[getter]
    fn state(&self) -> &'static str {
        self.held.state().as_str()
    }

    /// Whether the lock was lost while held (SPEC L6). Stop acting on the
    /// resource when it is. A lock released normally is not lost.
    #[getter]
    fn is_lost(&self) -> bool {
        self.held.state() == State::Lost
    }

    /// Whether the lock was released (or lost and then released).
    #[getter]
    fn is_released(&self) -> bool {
        self.held.is_released()
    }

    /// Waits until the lock is lost: `True`, or `False` when `timeout`
    /// seconds pass first (`None`: no limit). A released guard answers at
    /// once with `is_lost`.
    #[pyo3(signature = (timeout = None))]
    fn wait_lost(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        self.origin.check(py, "LockGuard")?;
        let limit = seconds("timeout", timeout).map_err(|e| to_py(py, &e))?;
        Ok(wait_for(py, limit, self.lost_future())?.unwrap_or(false))
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
                    Some(limit) => Ok(tokio::time::timeout(limit, lost)
                        .await
                        .unwrap_or(Ok(false))?),
                    None => lost.await,
                }
            },
            |py, lost| Ok(py_bool(py, lost)),
        )
    }

    /// Releases the lock (SPEC L7). `NotLocked` if it was already released
    /// (by this guard or `Sync.unlock`), `Lost` if it had been lost. Ctrl-C
    /// stops the waiting, not the release (H2).
    fn unlock(&self, py: Python<'_>) -> PyResult<()> {
        self.origin.check(py, "LockGuard")?;
        wait_release(py, self.held.release())
    }

    /// `unlock` for asyncio; cancelling the task stops the waiting, not the
    /// release (H2).
    fn unlock_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.origin.check(py, "LockGuard")?;
        awaitable_release(py, self.held.release(), |py, ()| Ok(py.None()))
    }

    /// Releases the lock in the background; for a result nobody will see
    /// (an acquisition that completed after its asyncio task was cancelled).
    fn _abandon(&self) {
        self.held.abandon();
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
    ) -> PyResult<()> {
        self.origin.check(py, "LockGuard")?;
        let pending = exc_type.is_some_and(|t| !t.is_none());
        wait_release(py, self.release_on_exit(pending))
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        // A coroutine that returns the object without suspending: no
        // runtime round trip, so no moment for a cancellation to leave the
        // lock or candidacy taken but not entered.
        let py = slf.py();
        py.import("vinesync._aio")?.call_method1("ready", (slf,))
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
        awaitable_release(py, self.release_on_exit(pending), |py, ()| Ok(py.None()))
    }

    fn __repr__(&self) -> String {
        format!(
            "<vinesync.LockGuard id={:?} fencing_token={} {}>",
            self.id,
            self.fencing_token,
            self.held.state().as_str()
        )
    }
}
