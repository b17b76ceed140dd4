//! `Sync`: the handle (vine's `Sync` interface) and its registry of open
//! handles, closed at interpreter exit so no lease outlives the process.

use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use pyo3::prelude::*;
use vinesync::{
    Client, Error, ErrorKind, LeaderOptions, LockOptions, MemberOptions, Options, WatchOptions,
};

use crate::args::{seconds, ConnectArgs};
use crate::errors::to_py;
use crate::guard::LockGuard;
use crate::held::Held;
use crate::leader::Leader;
use crate::process::Origin;
use crate::runtime::{
    awaitable, awaitable_context, awaitable_release, runtime, wait, wait_release,
};
use crate::streams::ElectWatcher;
use crate::values::{self, Member};

/// The open handles of the process that made them, by handle id, for
/// [`shutdown`].
struct OpenHandles {
    origin: Origin,
    clients: HashMap<String, Client>,
}

/// Taken only by threads that hold the GIL (handle creation, close, a
/// handle's deallocation): `os.fork()` runs with the GIL, so no other
/// thread holds this at a fork and a child can take it.
static OPEN: Mutex<Option<OpenHandles>> = Mutex::new(None);

fn open_handles() -> std::sync::MutexGuard<'static, Option<OpenHandles>> {
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    if open.as_ref().is_some_and(|o| !o.origin.is_here()) {
        // A forked child: the parent's handles are not ours to touch (H5);
        // leak them rather than run their destructors here.
        std::mem::forget(open.take());
    }
    open
}

fn register(client: &Client) {
    open_handles()
        .get_or_insert_with(|| OpenHandles {
            origin: Origin::here(),
            clients: HashMap::new(),
        })
        .clients
        .insert(client.handle_id().to_string(), client.clone());
}

fn unregister(client: &Client) {
    if let Some(open) = open_handles().as_mut() {
        open.clients.remove(client.handle_id());
    }
}

/// Closes every open handle of this process, waiting at most `limit`. In
/// a forked child it touches nothing: the handles are the parent's (H5).
pub fn shutdown(py: Python<'_>, limit: Duration) -> PyResult<()> {
    let clients: Vec<Client> = open_handles()
        .take()
        .map(|open| open.clients.into_values().collect())
        .unwrap_or_default();
    if clients.is_empty() {
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
#[pyclass(frozen, weakref, module = "vinesync")]
pub struct Sync {
    /// Never dropped in a forked child (see `Drop`).
    client: ManuallyDrop<Client>,
    origin: Origin,
    /// The live guards' acquisitions by lock id (at most one per id: a
    /// handle's second `lock` of an id waits for the first, L3), so
    /// `unlock(id)` and `close()` update the guard's state.
    held: Mutex<HashMap<String, Weak<Held>>>,
}

impl Sync {
    fn new(client: Client) -> Sync {
        register(&client);
        Sync {
            client: ManuallyDrop::new(client),
            origin: Origin::here(),
            held: Mutex::new(HashMap::new()),
        }
    }

    fn check(&self, py: Python<'_>) -> PyResult<Client> {
        self.origin.check(py, "Sync")?;
        Ok(Client::clone(&self.client))
    }

    fn held_table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Weak<Held>>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The Python guard of a new acquisition, remembered by its id.
    fn guard(slf: &Bound<'_, Self>, guard: vinesync::LockGuard) -> LockGuard {
        let held = Held::new(guard);
        let mut table = slf.get().held_table();
        table.retain(|_, held| held.strong_count() > 0);
        table.insert(held.id.clone(), Arc::downgrade(&held));
        drop(table);
        LockGuard::new(slf.clone().unbind(), held)
    }

    fn live_held(&self, id: &str) -> Option<Arc<Held>> {
        self.held_table().get(id).and_then(Weak::upgrade)
    }
}

/// How a `lock` waits: `wait=None` without limit, `wait=0` not at all
/// (one try), `wait=t` at most `t` seconds — Python's convention, not vine's
/// (where 0 means "forever").
fn lock_options(ttl: Option<f64>, wait: Option<f64>) -> vinesync::Result<(LockOptions, bool)> {
    let mut options = LockOptions::new();
    if let Some(ttl) = seconds("ttl", ttl)? {
        options = options.ttl(ttl);
    }
    let wait = seconds("wait", wait)?;
    if let Some(wait) = wait.filter(|w| !w.is_zero()) {
        options = options.wait(wait);
    }
    Ok((options, wait.is_some_and(|w| w.is_zero())))
}

/// `lock` with the `wait` convention of [`lock_options`].
async fn acquire(
    client: Client,
    id: String,
    options: LockOptions,
    try_once: bool,
) -> vinesync::Result<vinesync::LockGuard> {
    if !try_once {
        return client.lock(&id, options).await;
    }
    client.try_lock(&id, options).await.map_err(|e| {
        if e.kind() == ErrorKind::WouldBlock {
            Error::new(
                ErrorKind::LockTimeout,
                format!("lock {id:?}: held by someone else (wait=0 tries once)"),
            )
        } else {
            e
        }
    })
}

fn leader_options(
    ns: Option<String>,
    id: Option<String>,
    ttl: Option<f64>,
) -> vinesync::Result<LeaderOptions> {
    let mut options = LeaderOptions::new();
    if let Some(ns) = ns {
        options = options.namespace(ns);
    }
    if let Some(id) = id {
        options = options.id(id);
    }
    if let Some(ttl) = seconds("ttl", ttl)? {
        options = options.ttl(ttl);
    }
    Ok(options)
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
    #[pyo3(signature = (*, prefix = None, layout = None))]
    fn memory(py: Python<'_>, prefix: Option<String>, layout: Option<String>) -> PyResult<Sync> {
        let options = ConnectArgs {
            prefix,
            layout,
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
    #[pyo3(signature = (nodes = None, *, prefix = None, layout = None, dial_timeout = None, request_timeout = None,
                        ca_file = None, cert_file = None, key_file = None, server_name = None,
                        user = None, password = None))]
    #[allow(clippy::too_many_arguments)]
    fn etcd(
        py: Python<'_>,
        nodes: Option<Vec<String>>,
        prefix: Option<String>,
        layout: Option<String>,
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
            layout,
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

    /// `etcd` for asyncio: `s = await Sync.etcd_async(...)`.
    #[staticmethod]
    #[pyo3(signature = (nodes = None, *, prefix = None, layout = None, dial_timeout = None, request_timeout = None,
                        ca_file = None, cert_file = None, key_file = None, server_name = None,
                        user = None, password = None))]
    #[allow(clippy::too_many_arguments)]
    fn etcd_async(
        py: Python<'_>,
        nodes: Option<Vec<String>>,
        prefix: Option<String>,
        layout: Option<String>,
        dial_timeout: Option<f64>,
        request_timeout: Option<f64>,
        ca_file: Option<std::path::PathBuf>,
        cert_file: Option<std::path::PathBuf>,
        key_file: Option<std::path::PathBuf>,
        server_name: Option<String>,
        user: Option<String>,
        password: Option<String>,
    ) -> PyResult<Bound<'_, PyAny>> {
        let args = ConnectArgs {
            prefix,
            layout,
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
        awaitable(py, Client::etcd(options), new_sync)
    }

    /// etcd when `VINESYNC_NODES` is set, the memory store otherwise, with
    /// options from the environment. What the examples use.
    #[staticmethod]
    fn from_env(py: Python<'_>) -> PyResult<Sync> {
        wait(py, Client::from_env()).map(Sync::new)
    }

    /// `from_env` for asyncio: `s = await Sync.from_env_async()`.
    #[staticmethod]
    fn from_env_async(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        awaitable(py, Client::from_env(), new_sync)
    }

    /// vine's `Init`: changes the given options (same arguments as
    /// `Sync.etcd`); on etcd a change of connection settings reconnects.
    #[pyo3(signature = (*, nodes = None, prefix = None, layout = None, dial_timeout = None, request_timeout = None,
                        ca_file = None, cert_file = None, key_file = None, server_name = None,
                        user = None, password = None))]
    #[allow(clippy::too_many_arguments)]
    fn init(
        &self,
        py: Python<'_>,
        nodes: Option<Vec<String>>,
        prefix: Option<String>,
        layout: Option<String>,
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
            layout,
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

    /// `init` for asyncio.
    #[pyo3(signature = (*, nodes = None, prefix = None, layout = None, dial_timeout = None, request_timeout = None,
                        ca_file = None, cert_file = None, key_file = None, server_name = None,
                        user = None, password = None))]
    #[allow(clippy::too_many_arguments)]
    fn init_async<'py>(
        &self,
        py: Python<'py>,
        nodes: Option<Vec<String>>,
        prefix: Option<String>,
        layout: Option<String>,
        dial_timeout: Option<f64>,
        request_timeout: Option<f64>,
        ca_file: Option<std::path::PathBuf>,
        cert_file: Option<std::path::PathBuf>,
        key_file: Option<std::path::PathBuf>,
        server_name: Option<String>,
        user: Option<String>,
        password: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.check(py)?;
        let args = ConnectArgs {
            prefix,
            layout,
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
        awaitable(py, async move { client.init(options).await }, |py, ()| {
            Ok(py.None())
        })
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

    /// Whether `close()` was called (or this is a child of `fork()`, where
    /// the parent's handle is closed: SPEC H5).
    #[getter]
    fn closed(&self) -> bool {
        !self.origin.is_here() || self.client.is_closed()
    }

    /// vine's `Lock`: blocks until lock `id` is held (SPEC L1–L9) and
    /// returns its guard. `ttl`: lease TTL in seconds (default 60, ≥ 1);
    /// `wait`: seconds before `LockTimeout` (`None`: no limit; `0`: one
    /// try). Ctrl-C interrupts the wait and removes the waiter key (L8).
    /// The lock stays held by this Sync until `unlock(id)`,
    /// `guard.unlock()` or the end of a `with guard:` block.
    #[pyo3(signature = (id, *, ttl = None, wait = None))]
    fn lock(
        slf: &Bound<'_, Self>,
        id: String,
        ttl: Option<f64>,
        wait: Option<f64>,
    ) -> PyResult<LockGuard> {
        let py = slf.py();
        let client = slf.get().check(py)?;
        let (options, try_once) = lock_options(ttl, wait).map_err(|e| to_py(py, &e))?;
        let guard = crate::runtime::wait(py, acquire(client, id, options, try_once))?;
        Ok(Sync::guard(slf, guard))
    }

    /// `lock` for asyncio: `await s.lock_async(id)` or
    /// `async with s.lock_async(id) as guard:`. Cancelling the task removes
    /// the waiter key, or releases the lock if it was taken (SPEC L8).
    #[pyo3(signature = (id, *, ttl = None, wait = None))]
    fn lock_async<'py>(
        slf: &Bound<'py, Self>,
        id: String,
        ttl: Option<f64>,
        wait: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let client = slf.get().check(py)?;
        let (options, try_once) = lock_options(ttl, wait).map_err(|e| to_py(py, &e))?;
        let owner = slf.clone().unbind();
        awaitable_context(
            py,
            acquire(client, id, options, try_once),
            move |py, guard| {
                let guard = Sync::guard(owner.bind(py), guard);
                Ok(Py::new(py, guard)?.into_any())
            },
        )
    }

    /// A reusable lock object in the style of `threading.Lock`:
    /// `acquire(blocking=True, timeout=None) -> bool`, `release()`,
    /// `locked()`, `owned()`, and a context manager.
    #[pyo3(name = "Lock", signature = (id, *, ttl = None))]
    fn lock_object<'py>(
        slf: &Bound<'py, Self>,
        id: String,
        ttl: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        slf.get().check(py)?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("ttl", ttl)?;
        py.import("vinesync._lock")?
            .getattr("Lock")?
            .call((slf, id), Some(&kwargs))
    }

    /// Takes lock `id` only if it is free now (SPEC L10); `WouldBlock`
    /// otherwise, leaving no key.
    #[pyo3(signature = (id, *, ttl = None))]
    fn try_lock(slf: &Bound<'_, Self>, id: String, ttl: Option<f64>) -> PyResult<LockGuard> {
        let py = slf.py();
        let client = slf.get().check(py)?;
        let (options, _) = lock_options(ttl, None).map_err(|e| to_py(py, &e))?;
        let guard = wait(py, async move { client.try_lock(&id, options).await })?;
        Ok(Sync::guard(slf, guard))
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
        let (options, _) = lock_options(ttl, None).map_err(|e| to_py(py, &e))?;
        let owner = slf.clone().unbind();
        awaitable_context(
            py,
            async move { client.try_lock(&id, options).await },
            move |py, guard| {
                let guard = Sync::guard(owner.bind(py), guard);
                Ok(Py::new(py, guard)?.into_any())
            },
        )
    }

    /// vine's `Unlock`: releases the acquisition of `id` this handle holds
    /// (SPEC L7); `NotLocked` if it holds none, `Lost` if it was lost.
    /// Ctrl-C stops the waiting, not the release (H2).
    fn unlock(&self, py: Python<'_>, id: String) -> PyResult<()> {
        let client = self.check(py)?;
        wait_release(py, self.release(client, id))
    }

    /// `unlock` for asyncio; cancelling the task stops the waiting, not the
    /// release (H2).
    fn unlock_async<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        let client = self.check(py)?;
        awaitable_release(py, self.release(client, id), |py, ()| Ok(py.None()))
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
        ttl: Option<f64>,
    ) -> PyResult<Leader> {
        let py = slf.py();
        let client = slf.get().check(py)?;
        let options = leader_options(ns, id, ttl).map_err(|e| to_py(py, &e))?;
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
        ttl: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let client = slf.get().check(py)?;
        let options = leader_options(ns, id, ttl).map_err(|e| to_py(py, &e))?;
        let owner = slf.clone().unbind();
        awaitable_context(
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
    /// nothing.
    fn lock_info(&self, py: Python<'_>, id: String) -> PyResult<crate::inspect::LockInfo> {
        crate::inspect::lock_info(py, self.check(py)?, id)
    }

    /// `lock_info` for asyncio.
    fn lock_info_async<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        crate::inspect::lock_info_async(py, self.check(py)?, id)
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

    /// `watch_elect` for asyncio: `async for event in await
    /// s.watch_elect_async(ns=...)`.
    #[pyo3(signature = (*, ns = None, id = None))]
    fn watch_elect_async<'py>(
        slf: &Bound<'py, Self>,
        ns: Option<String>,
        id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let client = slf.get().check(py)?;
        let options = watch_options(ns, id);
        let owner = slf.clone().unbind();
        awaitable(
            py,
            async move { client.watch_elect(options).await },
            move |py, watcher| Ok(Py::new(py, ElectWatcher::new(watcher, owner))?.into_any()),
        )
    }

    /// Closes the handle: every lock it holds and every candidacy is
    /// released at once; later calls raise `Closed`. Idempotent. Ctrl-C
    /// stops the waiting, not the close (H2).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let client = self.check(py)?;
        wait_release(py, self.close_future(client))
    }

    /// `close` for asyncio; cancelling the task stops the waiting, not the
    /// close (H2).
    fn close_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.check(py)?;
        awaitable_release(py, self.close_future(client), |py, ()| Ok(py.None()))
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        self.close(py)
    }

    /// Fault injection for tests (simulated crashes, expired leases); only
    /// in test builds (the `test-hooks` feature), never in a public wheel.
    #[cfg(feature = "test-hooks")]
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

impl Sync {
    /// `unlock(id)`: through the live guard of `id` when there is one, so
    /// the guard reports the release too.
    fn release(
        &self,
        client: Client,
        id: String,
    ) -> impl std::future::Future<Output = vinesync::Result<()>> + Send + 'static {
        let held = self.live_held(&id).filter(|held| !held.is_released());
        let through_guard = held.map(|held| held.release());
        async move {
            match through_guard {
                Some(release) => release.await,
                None => client.unlock(&id).await,
            }
        }
    }

    /// `close()`: every guard reports released; the core releases the locks.
    fn close_future(
        &self,
        client: Client,
    ) -> impl std::future::Future<Output = vinesync::Result<()>> + Send + 'static {
        unregister(&client);
        // The guards say "released" before the close revokes the leases
        // (which a guard watching its lost signal would take for a loss);
        // the handle still holds the locks until then.
        for held in self.held_table().drain().filter_map(|(_, h)| h.upgrade()) {
            held.forget();
        }
        async move {
            client.close().await;
            Ok(())
        }
    }
}

fn new_sync(py: Python<'_>, client: Client) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, Sync::new(client))?.into_any())
}

impl Drop for Sync {
    fn drop(&mut self) {
        if !self.origin.is_here() {
            // A forked child: the parent's handle is not ours to touch (H5).
            return;
        }
        // Unreachable from Python: release what it holds (in the background).
        unregister(&self.client);
        if !self.client.is_closed() {
            if let Ok(runtime) = runtime() {
                let client = Client::clone(&self.client);
                runtime.spawn(async move { client.close().await });
            }
        }
        // SAFETY: dropped once, here, and never used again.
        unsafe { ManuallyDrop::drop(&mut self.client) };
    }
}
