//! `Leader`: a candidacy in an election (vine's `Leader`, SPEC E1–E6).
//! Leaving a `with` block resigns; so does garbage collection (keep a
//! reference while you want to stay a candidate).

use std::mem::ManuallyDrop;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyTuple};

use crate::args::seconds;
use crate::errors::to_py;
use crate::process::Origin;
use crate::runtime::{awaitable, awaitable_release, runtime, wait, wait_release};
use crate::streams::{Observer, StatusStream};
use crate::sync::{members_list, Sync};
use crate::values::Member;

/// A candidate in an election, returned by `Sync.leader()` once its key is
/// written (SPEC E1); campaigning goes on in the background.
#[pyclass(frozen, weakref, module = "vinesync")]
pub struct Leader {
    owner: Py<Sync>,
    origin: Origin,
    /// Never dropped in a forked child (see `Drop`).
    leader: ManuallyDrop<Arc<vinesync::Leader>>,
}

impl Leader {
    pub fn new(leader: vinesync::Leader, owner: Py<Sync>) -> Self {
        Leader {
            owner,
            origin: Origin::here(),
            leader: ManuallyDrop::new(Arc::new(leader)),
        }
    }

    fn check(&self, py: Python<'_>) -> PyResult<()> {
        self.origin.check(py, "Leader")
    }

    fn resign_future(
        &self,
    ) -> impl std::future::Future<Output = vinesync::Result<()>> + Send + 'static {
        let leader = Arc::clone(&self.leader);
        async move { leader.resign().await }
    }

    /// The resignation a `with` block's exit makes: after `Sync.close()`,
    /// which ended the candidacy already, nothing is left to do (as a
    /// guard's exit after close).
    fn exit_future(
        &self,
    ) -> impl std::future::Future<Output = vinesync::Result<()>> + Send + 'static {
        let resign = self.resign_future();
        async move {
            match resign.await {
                Err(e) if e.kind() == vinesync::ErrorKind::Closed => Ok(()),
                other => other,
            }
        }
    }

    fn elected_future(
        &self,
        limit: Option<std::time::Duration>,
    ) -> impl std::future::Future<Output = vinesync::Result<bool>> + Send + 'static {
        let leader = Arc::clone(&self.leader);
        async move {
            match limit {
                Some(limit) => match tokio::time::timeout(limit, leader.wait_elected()).await {
                    Ok(result) => result.map(|()| true),
                    Err(_) => Ok(false),
                },
                None => leader.wait_elected().await.map(|()| true),
            }
        }
    }
}

fn py_bool(py: Python<'_>, value: bool) -> Py<PyAny> {
    PyBool::new(py, value).to_owned().into_any().unbind()
}

#[pymethods]
impl Leader {
    /// This candidate's id (`LeaderId`).
    #[getter]
    fn id(&self) -> &str {
        self.leader.id()
    }

    /// The election name given to `Sync.leader`.
    #[getter]
    fn name(&self) -> &str {
        self.leader.name()
    }

    /// The election namespace (`LeaderNS`).
    #[getter]
    fn namespace(&self) -> &str {
        self.leader.namespace()
    }

    /// The candidate key.
    #[getter]
    fn key(&self) -> &str {
        self.leader.key()
    }

    /// Greater than that of every earlier candidate of the namespace: a
    /// fencing token for the term.
    #[getter]
    fn fencing_token(&self) -> u64 {
        self.leader.fencing_token()
    }

    /// Whether this candidate is the primary now.
    #[getter]
    fn is_primary(&self) -> bool {
        // In a child of fork() the parent's role is not this process's.
        self.origin.is_here() && self.leader.is_primary()
    }

    /// Whether the candidacy has ended (resigned, or lease lost).
    #[getter]
    fn is_ended(&self) -> bool {
        !self.origin.is_here() || self.leader.is_ended()
    }

    /// Gives up the candidacy (SPEC E4); idempotent. Ctrl-C stops the
    /// waiting, not the resignation (H2).
    fn resign(&self, py: Python<'_>) -> PyResult<()> {
        self.check(py)?;
        wait_release(py, self.resign_future())
    }

    /// `resign` for asyncio; cancelling the task stops the waiting, not the
    /// resignation (H2).
    fn resign_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.check(py)?;
        awaitable_release(py, self.resign_future(), |py, ()| Ok(py.None()))
    }

    /// Waits until this candidate is primary (SPEC E3): `True`, or `False`
    /// when `timeout` seconds pass first. Raises `Lost` if the candidacy
    /// ends before.
    #[pyo3(signature = (timeout = None))]
    fn wait_elected(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        self.check(py)?;
        let limit = seconds("timeout", timeout).map_err(|e| to_py(py, &e))?;
        wait(py, self.elected_future(limit))
    }

    /// `wait_elected` for asyncio.
    #[pyo3(signature = (timeout = None))]
    fn wait_elected_async<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.check(py)?;
        let limit = seconds("timeout", timeout).map_err(|e| to_py(py, &e))?;
        awaitable(py, self.elected_future(limit), |py, elected| {
            Ok(py_bool(py, elected))
        })
    }

    /// The namespace's current primary (SPEC E6); `NoLeader` if none.
    fn primary(&self, py: Python<'_>) -> PyResult<Member> {
        self.check(py)?;
        let leader = Arc::clone(&self.leader);
        wait(py, async move { leader.primary().await }).map(Member::from)
    }

    /// `primary` for asyncio.
    fn primary_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.check(py)?;
        let leader = Arc::clone(&self.leader);
        awaitable(py, async move { leader.primary().await }, |py, m| {
            Ok(Py::new(py, Member::from(m))?.into_any())
        })
    }

    /// The members of this candidate's namespace (as `Sync.list_members`).
    fn members(&self, py: Python<'_>) -> PyResult<Vec<Member>> {
        self.check(py)?;
        let leader = Arc::clone(&self.leader);
        wait(py, async move { leader.members().await })
            .map(|m| m.into_iter().map(Member::from).collect())
    }

    /// `members` for asyncio.
    fn members_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.check(py)?;
        let leader = Arc::clone(&self.leader);
        awaitable(py, async move { leader.members().await }, members_list)
    }

    /// Every primary of the namespace from now on, starting with the
    /// current one (SPEC E6): an iterator (and async iterator) of
    /// `ObserveResult`.
    fn observe(&self, py: Python<'_>) -> PyResult<Observer> {
        self.check(py)?;
        let leader = Arc::clone(&self.leader);
        let observer = wait(py, async move { leader.observe().await })?;
        Ok(Observer::new(observer, self.owner.clone_ref(py)))
    }

    /// `observe` for asyncio: `async for primary in await leader.observe_async()`.
    fn observe_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.check(py)?;
        let leader = Arc::clone(&self.leader);
        let owner = self.owner.clone_ref(py);
        awaitable(
            py,
            async move { leader.observe().await },
            move |py, observer| Ok(Py::new(py, Observer::new(observer, owner))?.into_any()),
        )
    }

    /// `True` when this candidate becomes primary, `False` when it stops
    /// (SPEC E3): an iterator (and async iterator) that ends with the
    /// candidacy.
    fn status(&self, py: Python<'_>) -> PyResult<StatusStream> {
        self.check(py)?;
        Ok(StatusStream::new(
            self.leader.status(),
            self.owner.clone_ref(py),
        ))
    }

    /// `status` for asyncio (it never blocks; here for symmetry):
    /// `async for primary in await leader.status_async()`.
    fn status_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stream = Py::new(py, self.status(py)?)?.into_any();
        awaitable(py, async { Ok(()) }, move |_, ()| Ok(stream))
    }

    /// Resigns in the background; for a result nobody will see (a
    /// candidacy that completed after its asyncio task was cancelled).
    fn _abandon(&self) -> PyResult<()> {
        let resign = self.resign_future();
        runtime()?.spawn(resign);
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.check(py)?;
        wait_release(py, self.exit_future())
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        // A coroutine that returns the object without suspending: no
        // runtime round trip, so no moment for a cancellation to leave the
        // lock or candidacy taken but not entered.
        let py = slf.py();
        py.import("vinesync._aio")?.call_method1("ready", (slf,))
    }

    #[pyo3(signature = (*_exc))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _exc: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.check(py)?;
        awaitable_release(py, self.exit_future(), |py, ()| Ok(py.None()))
    }

    fn __repr__(&self) -> String {
        let role = if self.leader.is_ended() {
            "ended"
        } else if self.leader.is_primary() {
            "primary"
        } else {
            "follow"
        };
        format!(
            "<vinesync.Leader name={:?} id={:?} namespace={:?} {role}>",
            self.leader.name(),
            self.leader.id(),
            self.leader.namespace()
        )
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if self.origin.is_here() {
            // SAFETY: dropped once, here, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.leader) };
        }
        // In a forked child the parent's candidacy is not ours to touch
        // (H5): it is leaked, not resigned.
    }
}
