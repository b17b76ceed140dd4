//! `Sync`: the handle (vine's `Sync` interface) and its registry of open
//! handles, closed at interpreter exit so no lease outlives the process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use pyo3::prelude::*;
use vinesync::{Client, LeaderOptions, LockOptions, MemberOptions, Options, WatchOptions};

use crate::args::{seconds, ConnectArgs};
use crate::errors::to_py;
use crate::guard::LockGuard;
use crate::leader::Leader;
use crate::process::Origin;
use crate::runtime::{awaitable, runtime, wait};
use crate::streams::ElectWatcher;
use crate::values::{self, Member};

/// Open handles by handle id, for [`shutdown`].
static OPEN: Mutex<Option<HashMap<String, Client>>> = Mutex::new(None);

fn register(client: &Client) {
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    open.get_or_insert_with(HashMap::new)
        .insert(client.handle_id().to_string(), client.clone());
}

fn unregister(client: &Client) {
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(open) = open.as_mut() {
        open.remove(client.handle_id());
    }
}

/// Closes every open handle of this process, waiting at most `limit`.
pub fn shutdown(py: Python<'_>, limit: Duration) -> PyResult<()> {
    let clients: Vec<Client> = OPEN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .map(|open| open.into_values().collect())
        .unwrap_or_default();
    let here = Origin::here();
    if clients.is_empty() || !here.is_here() {
        return Ok(());
    }
    crate::runtime::wait_for(py, Some(limit), async move {
        for client in clients {
            client.close().await;
        }
        Ok(())
    })
    .map(|_| ())
}

/// A list of members as a Python list.
pub fn members_list(py: Python<'_>, members: Vec<vinesync::Member>) -> PyResult<Py<PyAny>> {
    let members: Vec<Member> = members.into_iter().map(Member::from).collect();
    Ok(pyo3::types::PyList::new(py, members)?.into_any().unbind())
}

/// A vinesync handle on etcd or the in-process memory store (vine's
/// `Sync`). Thread-safe: share one between threads and tasks.
#[pyclass(frozen, module = "vinesync")]
pub struct Sync {
    client: Client,
    origin: Origin,
}

impl Sync {
    fn new(client: Client) -> Sync {
        register(&client);
        Sync {
            client,
            origin: Origin::here(),
        }
    }

    fn check(&self, py: Python<'_>) -> PyResult<Client> {
        self.origin.check(py, "Sync")?;
        Ok(self.client.clone())
    }
}

fn lock_options(ttl: Option<f64>, wait: Option<f64>) -> vinesync::Result<LockOptions> {
    let mut options = LockOptions::new();
    if let Some(ttl) = seconds("ttl", ttl)? {
        options = options.ttl(ttl);
    }
    // vine's meaning (0 = no limit) until the Python conventions change.
    if let Some(wait) = seconds("wait", wait)?.filter(|w| !w.is_zero()) {
        options = options.wait(wait);
    }
    Ok(options)
}

fn leader_options(ns: Option<String>, id: Option<String>, ttl: Option<i64>) -> LeaderOptions {
    let mut options = LeaderOptions::new();
    if let Some(ns) = ns {
        options = options.namespace(ns);
    }
    if let Some(id) = id {
        options = options.id(id);
    }
    if let Some(ttl) = ttl {
        options = options.ttl(std::time::Duration::from_secs(
            u64::try_from(ttl).unwrap_or(0),
        ));
    }
    options
}

fn member_options(ns: Option<String>) -> MemberOptions {
    ns.map_or_else(MemberOptions::new, |ns| MemberOptions::new().namespace(ns))
}

fn watch_options(ns: Option<String>, id: Option<String>) -> WatchOptions {
    let mut options = WatchOptions::new();
    if let Some(ns) = ns {
        options = options.namespace(ns);
    }
    if let Some(id) = id {
        options = options.id(id);
    }
    options
}

#[pymethods]
impl Sync {
    /// A handle on this process's memory store: every memory handle of the
    /// process sees the same locks and elections.
    #[staticmethod]
    #[pyo3(signature = (*, prefix = None))]
    fn memory(py: Python<'_>, prefix: Option<String>) -> PyResult<Sync> {
        let options = ConnectArgs {
            prefix,
            ..ConnectArgs::default()
        }
        .apply(Options::new())
        .and_then(|options| {
            let _runtime = runtime().map(|r| r.enter());
            Client::memory(options)
        });
        options.map(Sync::new).map_err(|e| to_py(py, &e))
    }

    /// A handle on etcd. Unset arguments come from the environment
    /// (`VINESYNC_NODES`, `VINESYNC_PREFIX`, `VINESYNC_CACERT`, ...), then
    /// vine's defaults (`127.0.0.1:2379`, `/vine/sync`). Times in seconds.
    #[staticmethod]
    #[pyo3(signature = (nodes = None, *, prefix = None, dial_timeout = None, request_timeout = None,
                        ca_file = None, cert_file = None, key_file = None, server_name = None,
                        user = None, password = None))]
    #[allow(clippy::too_many_arguments)]
    fn etcd(
        py: Python<'_>,
        nodes: Option<Vec<String>>,
        prefix: Option<String>,
        dial_timeout: Option<f64>,
        request_timeout: Option<f64>,
        ca_file: Option<std::path::PathBuf>,
        cert_file: Option<std::path::PathBuf>,
        key_file: Option<std::path::PathBuf>,
        server_name: Option<String>,
        user: Option<String>,
        password: Option<String>,
    ) -> PyResult<Sync> {
        let args = ConnectArgs {
            prefix,
            nodes,
            dial_timeout,
            request_timeout,
            ca_file,
            cert_file,
            key_file,
            server_name,
            user,
            password,
        };
        let options = Options::from_env()
            .and_then(|base| args.apply(base))
            .map_err(|e| to_py(py, &e))?;
        wait(py, Client::etcd(options)).map(Sync::new)
    }

    /// etcd when `VINESYNC_NODES` is set, the memory store otherwise, with
    /// options from the environment. What the examples use.
    #[staticmethod]
    fn from_env(py: Python<'_>) -> PyResult<Sync> {
        wait(py, Client::from_env()).map(Sync::new)
    }

    /// vine's `Init`: changes the given options (same arguments as
    /// `Sync.etcd`); on etcd a change of connection settings reconnects.
    #[pyo3(signature = (*, nodes = None, prefix = None, dial_timeout = None, request_timeout = None,
                        ca_file = None, cert_file = None, key_file = None, server_name = None,
                        user = None, password = None))]
    #[allow(clippy::too_many_arguments)]
    fn init(
        &self,
        py: Python<'_>,
        nodes: Option<Vec<String>>,
        prefix: Option<String>,
        dial_timeout: Option<f64>,
        request_timeout: Option<f64>,
        ca_file: Option<std::path::PathBuf>,
        cert_file: Option<std::path::PathBuf>,
        key_file: Option<std::path::PathBuf>,
        server_name: Option<String>,
        user: Option<String>,
        password: Option<String>,
    ) -> PyResult<()> {
        let client = self.check(py)?;
        let args = ConnectArgs {
            prefix,
            nodes,
            dial_timeout,
            request_timeout,
            ca_file,
            cert_file,
            key_file,
            server_name,
            user,
            password,
        };
        let options = args.apply(client.options()).map_err(|e| to_py(py, &e))?;
        wait(py, async move { client.init(options).await })
    }

    /// vine's `Options`: the current options (without the password).
    fn options(&self) -> values::Options {
        self.client.options().into()
    }

    /// `"etcd"` or `"memory"` (vine's `String`).
    #[getter]
    fn name(&self) -> &'static str {
        self.client.name()
    }

    /// This handle's unique id (also in its lock keys' values).
    #[getter]
    fn handle_id(&self) -> &str {
        self.client.handle_id()
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.client.is_closed()
    }

    /// vine's `Lock`: blocks until lock `id` is held (SPEC L1–L9) and
    /// returns its guard. `ttl`: lease TTL in seconds (default 60, ≥ 1);
    /// `wait`: seconds before `LockTimeout` (None or 0: no limit). Ctrl-C
    /// interrupts the wait and removes the waiter key (L8). The lock stays
    /// held by this Sync until `unlock(id)`, `guard.unlock()` or the end of
    /// a `with guard:` block.
    #[pyo3(signature = (id, *, ttl = None, wait = None))]
    fn lock(
        slf: &Bound<'_, Self>,
        id: String,
        ttl: Option<f64>,
        wait: Option<f64>,
    ) -> PyResult<LockGuard> {
        let py = slf.py();
        let client = slf.get().check(py)?;
        let options = lock_options(ttl, wait).map_err(|e| to_py(py, &e))?;
        let guard = crate::runtime::wait(py, async move { client.lock(&id, options).await })?;
        Ok(LockGuard::new(guard, slf.clone().unbind()))
    }

    /// `lock` for asyncio: `await s.lock_async(id)` or
    /// `async with await s.lock_async(id) as guard:`. Cancelling the task
    /// removes the waiter key (SPEC L8).
    #[pyo3(signature = (id, *, ttl = None, wait = None))]
    fn lock_async<'py>(
        slf: &Bound<'py, Self>,
        id: String,
        ttl: Option<f64>,
        wait: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let client = slf.get().check(py)?;
        let options = lock_options(ttl, wait).map_err(|e| to_py(py, &e))?;
        let owner = slf.clone().unbind();
        awaitable(
            py,
            async move { client.lock(&id, options).await },
            move |py, guard| Ok(Py::new(py, LockGuard::new(guard, owner))?.into_any()),
        )
    }

    /// Takes lock `id` only if it is free now (SPEC L10); `WouldBlock`
    /// otherwise, leaving no key.
    #[pyo3(signature = (id, *, ttl = None))]
    fn try_lock(slf: &Bound<'_, Self>, id: String, ttl: Option<f64>) -> PyResult<LockGuard> {
        let py = slf.py();
        let client = slf.get().check(py)?;
        let options = lock_options(ttl, None).map_err(|e| to_py(py, &e))?;
        let guard = wait(py, async move { client.try_lock(&id, options).await })?;
        Ok(LockGuard::new(guard, slf.clone().unbind()))
    }

    /// `try_lock` for asyncio.
    #[pyo3(signature = (id, *, ttl = None))]
    fn try_lock_async<'py>(
        slf: &Bound<'py, Self>,
        id: String,
        ttl: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let client = slf.get().check(py)?;
        let options = lock_options(ttl, None).map_err(|e| to_py(py, &e))?;
        let owner = slf.clone().unbind();
        awaitable(
            py,
            async move { client.try_lock(&id, options).await },
            move |py, guard| Ok(Py::new(py, LockGuard::new(guard, owner))?.into_any()),
        )
    }

    /// vine's `Unlock`: releases the acquisition of `id` this handle holds
    /// (SPEC L7); `NotLocked` if it holds none, `Lost` if it was lost.
    fn unlock(&self, py: Python<'_>, id: String) -> PyResult<()> {
        let client = self.check(py)?;
        wait(py, async move { client.unlock(&id).await })
    }

    /// `unlock` for asyncio.
    fn unlock_async<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        let client = self.check(py)?;
        awaitable(py, async move { client.unlock(&id).await }, |py, ()| {
            Ok(py.None())
        })
    }

    /// vine's `Leader`: joins election `name` in namespace `ns` as `id`
    /// (default: a new UUID) with a lease of `ttl` seconds (default 60).
    /// Returns once the candidate key is written (SPEC E1).
    #[pyo3(signature = (name, *, ns = None, id = None, ttl = None))]
    fn leader(
        slf: &Bound<'_, Self>,
        name: String,
        ns: Option<String>,
        id: Option<String>,
        ttl: Option<i64>,
    ) -> PyResult<Leader> {
        let py = slf.py();
        let client = slf.get().check(py)?;
        let options = leader_options(ns, id, ttl);
        let leader = wait(py, async move { client.leader(&name, options).await })?;
        Ok(Leader::new(leader, slf.clone().unbind()))
    }

    /// `leader` for asyncio.
    #[pyo3(signature = (name, *, ns = None, id = None, ttl = None))]
    fn leader_async<'py>(
        slf: &Bound<'py, Self>,
        name: String,
        ns: Option<String>,
        id: Option<String>,
        ttl: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let client = slf.get().check(py)?;
        let options = leader_options(ns, id, ttl);
        let owner = slf.clone().unbind();
        awaitable(
            py,
            async move { client.leader(&name, options).await },
            move |py, leader| Ok(Py::new(py, Leader::new(leader, owner))?.into_any()),
        )
    }

    /// vine's `ListMembers`: the live candidates of `ns` in campaign order,
    /// exactly one with role `"primary"` when any exist (SPEC E7).
    #[pyo3(signature = (*, ns = None))]
    fn list_members(&self, py: Python<'_>, ns: Option<String>) -> PyResult<Vec<Member>> {
        let client = self.check(py)?;
        let options = member_options(ns);
        let members = wait(py, async move { client.list_members(options).await })?;
        Ok(members.into_iter().map(Member::from).collect())
    }

    /// Who holds lock `id` and who waits for it (a `LockInfo`); writes
    /// nothing. (No asyncio twin yet.)
    fn lock_info(&self, py: Python<'_>, id: String) -> PyResult<crate::inspect::LockInfo> {
        crate::inspect::lock_info(py, self.check(py)?, id)
    }

    /// `list_members` for asyncio.
    #[pyo3(signature = (*, ns = None))]
    fn list_members_async<'py>(
        &self,
        py: Python<'py>,
        ns: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.check(py)?;
        let options = member_options(ns);
        awaitable(
            py,
            async move { client.list_members(options).await },
            members_list,
        )
    }

    /// vine's `WatchElect`: every join, leave and primary change in `ns`
    /// (only of member `id` when given) as `ElectEvent`s (SPEC E8). An
    /// iterator and an async iterator; `close()` ends it.
    #[pyo3(signature = (*, ns = None, id = None))]
    fn watch_elect(
        slf: &Bound<'_, Self>,
        ns: Option<String>,
        id: Option<String>,
    ) -> PyResult<ElectWatcher> {
        let py = slf.py();
        let client = slf.get().check(py)?;
        let options = watch_options(ns, id);
        let watcher = wait(py, async move { client.watch_elect(options).await })?;
        Ok(ElectWatcher::new(watcher, slf.clone().unbind()))
    }

    /// Closes the handle: every lock it holds and every candidacy is
    /// released at once; later calls raise `Closed`. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let client = self.check(py)?;
        unregister(&client);
        wait(py, async move {
            client.close().await;
            Ok(())
        })
    }

    /// `close` for asyncio.
    fn close_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.check(py)?;
        unregister(&client);
        awaitable(
            py,
            async move {
                client.close().await;
                Ok(())
            },
            |py, ()| Ok(py.None()),
        )
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// Fault injection for tests (simulated crashes, expired leases).
    fn _faults(&self, py: Python<'_>) -> PyResult<crate::faults::Faults> {
        Ok(crate::faults::Faults::new(self.check(py)?))
    }

    fn __str__(&self) -> &'static str {
        self.client.name()
    }

    fn __repr__(&self) -> String {
        let state = if self.client.is_closed() {
            " closed"
        } else {
            ""
        };
        format!(
            "<vinesync.Sync {} prefix={:?}{state}>",
            self.client.name(),
            self.client.options().prefix
        )
    }
}

impl Drop for Sync {
    fn drop(&mut self) {
        // Unreachable from Python: release what it holds (in the background).
        unregister(&self.client);
        if self.origin.is_here() && !self.client.is_closed() {
            if let Ok(runtime) = runtime() {
                let client = self.client.clone();
                runtime.spawn(async move { client.close().await });
            }
        }
    }
}
