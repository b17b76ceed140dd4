//! The module's tokio runtime and the two ways Python waits for it:
//! [`wait`] blocks the calling thread with the GIL released, checking for
//! signals every [`SIGNAL_POLL`], and [`awaitable`] hands the result to an
//! asyncio future.
//!
//! Two kinds of work (see [`Kind`]): an acquisition or a read is aborted
//! when the caller is interrupted or cancelled (dropping it removes a
//! waiter key: SPEC L8); a release (unlock, resign, close) is not — it runs
//! to completion in the background and the caller only stops waiting
//! (SPEC H2).
//!
//! After `os.fork()` the parent's runtime threads do not exist in the child,
//! so the child gets a runtime of its own on first use (the parent's is
//! leaked: it can be neither used nor dropped there).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};

use std::task::Poll;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;
use vinesync::per_process::PerProcess;

use crate::errors::to_py;

/// How often a blocked call wakes up to let Python handle signals (Ctrl-C).
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// How long an interrupted call waits for its work to be dropped (which
/// starts removing a waiter key: SPEC L8) before raising.
const DROP_GRACE: Duration = Duration::from_secs(1);

/// Set when interpreter exit begins (see [`exiting`]).
static EXITING: AtomicBool = AtomicBool::new(false);

/// How many threads are between [`may_attach`] and the end of their use
/// of the GIL.
static ATTACHING: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread runs the exit (and so may still take the GIL).
    static RUNS_EXIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Permission to take the GIL, held until the thread is done with it.
pub struct Attaching;

impl Drop for Attaching {
    fn drop(&mut self) {
        ATTACHING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Asked by every thread of ours before it takes the GIL: `None` once
/// interpreter exit has begun, when it must not (see [`exiting`]).
pub fn may_attach() -> Option<Attaching> {
    ATTACHING.fetch_add(1, Ordering::SeqCst);
    let attaching = Attaching;
    if EXITING.load(Ordering::SeqCst) && !RUNS_EXIT.with(std::cell::Cell::get) {
        return None; // `attaching` is dropped: the count goes back down
    }
    Some(attaching)
}

/// [`may_attach`] for a thread that must come back to Python: blocks it
/// for good once exit has begun.
fn attach_or_park() -> Attaching {
    match may_attach() {
        Some(attaching) => attaching,
        None => loop {
            std::thread::park();
        },
    }
}

/// Called by the thread that runs interpreter exit (atexit), before it
/// closes the handles: from now on no other thread of ours takes the GIL,
/// and those that were about to are waited for. The threads left are
/// daemon threads and ours, and the interpreter is about to finalize: a
/// thread taking the GIL then is ended with `pthread_exit`, whose forced
/// unwind through Rust frames crashes the process. Such a thread stays
/// blocked until the process exits; results nobody can receive are dropped.
pub fn exiting(py: Python<'_>) {
    RUNS_EXIT.with(|runs| runs.set(true));
    EXITING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = std::time::Instant::now() + DROP_GRACE;
        while ATTACHING.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// One runtime per process: a child of `os.fork()` starts its own (the
/// parent's threads are not in it), and never waits on a lock a parent
/// thread held at the fork.
static RUNTIME: PerProcess<Runtime> = PerProcess::new();

/// This process's runtime, started on first use.
pub fn runtime() -> PyResult<&'static Runtime> {
    RUNTIME.get_or_try_init(|| {
        vinesync::host::runtime().map_err(|e| {
            PyRuntimeError::new_err(format!("vinesync: cannot start its runtime: {e}"))
        })
    })
}

/// What an interrupted or cancelled caller does to the work it waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Abort it: an acquisition, a read or a stream step.
    Abortable,
    /// Let it finish in the background: an unlock, resign or close (H2).
    Release,
}

/// Runs `work` on the runtime and blocks until it ends, with the GIL
/// released so other Python threads run. A pending signal (Ctrl-C) aborts
/// the work — dropping it undoes what it started — and raises.
pub fn wait<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = vinesync::Result<T>> + Send + 'static,
{
    // A result that arrives with a signal is dropped (see below).
    let result = wait_as(py, Kind::Abortable, work, drop)?;
    // A signal that arrived as the work finished would be raised as this
    // call returns, and the result lost with a lock or a candidacy still
    // held for it: give the result up here (dropping a guard or a leader
    // releases it in the background) and raise.
    if let Err(interrupted) = py.check_signals() {
        py.detach(|| drop(result));
        return Err(interrupted);
    }
    Ok(result)
}

/// [`wait`] for a result that must not be dropped on a signal (a stream's
/// item): one that arrives as a signal interrupts the wait goes to
/// `keep`, and after a result the caller checks for signals itself once
/// it can put the result back.
pub fn wait_keeping<T, F>(py: Python<'_>, work: F, keep: impl FnOnce(T)) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = vinesync::Result<T>> + Send + 'static,
{
    wait_as(py, Kind::Abortable, work, keep)
}

/// Like [`wait`] for a release: a pending signal raises at once, while the
/// release goes on in the background until it is done (SPEC H2).
pub fn wait_release<F>(py: Python<'_>, work: F) -> PyResult<()>
where
    F: Future<Output = vinesync::Result<()>> + Send + 'static,
{
    wait_as(py, Kind::Release, work, drop)
}

/// `late` gets a result that was already on its way when a signal
/// aborted the work.
fn wait_as<T, F>(py: Python<'_>, kind: Kind, work: F, late: impl FnOnce(T)) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = vinesync::Result<T>> + Send + 'static,
{
    let runtime = runtime()?;
    // Most calls on the memory store (and every call that fails at once)
    // finish in their first poll: try that here, without a thread switch
    // and without releasing the GIL. Only work that must wait is spawned.
    let mut work = Box::pin(work);
    if let Poll::Ready(result) = vinesync::host::poll_once(runtime.handle(), work.as_mut()) {
        return result.map_err(|e| to_py(py, &e));
    }
    let (sender, receiver) = sync_channel(1);
    // A Mutex makes the receiver `Sync`, so the closures below may borrow it.
    let receiver = std::sync::Mutex::new(receiver);
    let receive = |limit| {
        let receiver = receiver.lock().unwrap_or_else(|p| p.into_inner());
        receiver.recv_timeout(limit)
    };
    let task = runtime.spawn(async move {
        let _ = sender.send(work.await);
    });
    loop {
        // `_attaching` lasts until this thread is back in Python.
        let (received, _attaching) = py.detach(|| (receive(SIGNAL_POLL), attach_or_park()));
        match received {
            Ok(result) => return result.map_err(|e| to_py(py, &e)),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(interrupted) = py.check_signals() {
                    if kind == Kind::Abortable {
                        task.abort();
                        // The sender goes when the work is dropped, unless
                        // the work had finished: then its result is here.
                        let (finished, _attaching) =
                            py.detach(|| (receive(DROP_GRACE), attach_or_park()));
                        if let Ok(Ok(value)) = finished {
                            late(value);
                        }
                    }
                    return Err(interrupted);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "vinesync: the operation ended without an answer (runtime shut down)",
                ))
            }
        }
    }
}

/// Like [`wait`], with a limit: `Ok(None)` when `limit` passes first (the
/// work is dropped).
pub fn wait_for<T, F>(py: Python<'_>, limit: Option<Duration>, work: F) -> PyResult<Option<T>>
where
    T: Send + 'static,
    F: Future<Output = vinesync::Result<T>> + Send + 'static,
{
    wait(py, async move {
        match limit {
            Some(limit) => match tokio::time::timeout(limit, work).await {
                Ok(result) => result.map(Some),
                Err(_) => Ok(None),
            },
            None => work.await.map(Some),
        }
    })
}

/// Starts `work` on the runtime and returns a coroutine (`vinesync._aio.Pending`)
/// awaiting an asyncio future of the running loop that gets its result
/// (converted by `convert`, with the GIL held). Cancelling the awaiting
/// task aborts the work (see [`Work`]); a result that reached the future
/// but not the cancelled task, or that arrives after the future was
/// cancelled, is given up: a lock or candidacy is released (SPEC L8).
pub fn awaitable<'py, T, F, C>(py: Python<'py>, work: F, convert: C) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    F: Future<Output = vinesync::Result<T>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    start(py, Kind::Abortable, None, work, convert)
}

/// [`awaitable`] for a release: cancelling the awaiting task stops the
/// waiting, not the release (SPEC H2).
pub fn awaitable_release<'py, F, C>(
    py: Python<'py>,
    work: F,
    convert: C,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = vinesync::Result<()>> + Send + 'static,
    C: FnOnce(Python<'_>, ()) -> PyResult<Py<PyAny>> + Send + 'static,
{
    start(py, Kind::Release, None, work, convert)
}

/// [`awaitable`] for a stream step: an item no task took is handed to
/// `restore`, which puts it back in front of the stream (SPEC E8: no event
/// is lost to cancellation).
pub fn awaitable_restoring<'py, T, F, C>(
    py: Python<'py>,
    restore: Py<PyAny>,
    work: F,
    convert: C,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    F: Future<Output = vinesync::Result<T>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    start(py, Kind::Abortable, Some(restore), work, convert)
}

/// [`awaitable`] whose result is an async context manager (a guard or a
/// leader): the returned `vinesync._aio.Pending` is used directly in
/// `async with` (every awaitable is a `Pending`; the name says which are
/// meant for it).
pub fn awaitable_context<'py, T, F, C>(
    py: Python<'py>,
    work: F,
    convert: C,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    F: Future<Output = vinesync::Result<T>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    awaitable(py, work, convert)
}

fn start<'py, T, F, C>(
    py: Python<'py>,
    kind: Kind,
    restore: Option<Py<PyAny>>,
    work: F,
    convert: C,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    F: Future<Output = vinesync::Result<T>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let runtime = runtime()?;
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let future = event_loop.call_method0("create_future")?;
    let aio = py.import("vinesync._aio")?;
    let settle = aio.getattr("settle")?;
    let (event_loop, target, settle) = (
        event_loop.unbind(),
        future.clone().unbind(),
        settle.unbind(),
    );
    let late_restore = restore.as_ref().map(|r| r.clone_ref(py));
    let task = runtime.spawn(async move {
        let result = work.await;
        // Taking the GIL may wait; keep it off the runtime's worker threads.
        let _ = tokio::task::spawn_blocking(move || {
            // At exit nobody can receive it, and the GIL must not be taken.
            let _attaching = may_attach()?;
            Python::try_attach(|py| {
                let (ok, value) = match result
                    .map_err(|e| to_py(py, &e))
                    .and_then(|v| convert(py, v))
                {
                    Ok(value) => (true, value),
                    Err(error) => (false, error.into_value(py).into_any()),
                };
                let restore = late_restore.unwrap_or_else(|| py.None());
                let delivered = event_loop.call_method1(
                    py,
                    "call_soon_threadsafe",
                    (
                        settle.clone_ref(py),
                        target,
                        ok,
                        value.clone_ref(py),
                        restore.clone_ref(py),
                    ),
                );
                if delivered.is_err() && ok {
                    // The loop is closed: nobody will ever see the value.
                    let _ = settle.call1(py, (py.None(), true, value, restore));
                }
            })
        })
        .await;
    });
    let work = Work {
        task: (kind == Kind::Abortable).then(|| task.abort_handle()),
        future: future.clone().unbind(),
        restore,
        finished: AtomicBool::new(false),
    };
    aio.getattr("Pending")?.call1((future, work))
}

/// The runtime task behind an awaitable and the future it completes.
/// `vinesync._aio.Pending` calls `taken()` once the awaiting task has the
/// result, and `cancel()` when it ends any other way (cancelled before or
/// while waiting, or after the result arrived, or closed unawaited);
/// dropping it cancels it too.
/// Cancelling aborts the task (unless it is a release) and gives up a
/// result already in the future.
#[pyclass(frozen)]
struct Work {
    task: Option<AbortHandle>,
    future: Py<PyAny>,
    restore: Option<Py<PyAny>>,
    /// Set once the result was taken or given up.
    finished: AtomicBool,
}

#[pymethods]
impl Work {
    fn taken(&self) {
        self.finished.store(true, Ordering::SeqCst);
    }

    fn cancel(&self, py: Python<'_>) -> PyResult<()> {
        if self.finished.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        if let Some(task) = &self.task {
            task.abort();
        }
        let future = self.future.bind(py);
        // A future still waiting is cancelled: a late result goes to
        // `settle`, which gives it up.
        if future.call_method0("cancel")?.is_truthy()? {
            return Ok(());
        }
        if future.call_method0("cancelled")?.is_truthy()?
            || !future.call_method0("exception")?.is_none()
        {
            return Ok(());
        }
        // The result reached the future, but no task will take it.
        let value = future.call_method0("result")?;
        py.import("vinesync._aio")?
            .getattr("give_up")?
            .call1((value, self.restore.as_ref().map(|r| r.clone_ref(py))))?;
        Ok(())
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        if self.finished.load(Ordering::SeqCst) {
            return;
        }
        if let Some(task) = &self.task {
            task.abort();
        }
        Python::attach(|py| {
            if let Err(error) = self.cancel(py) {
                error.write_unraisable(py, None);
            }
        });
    }
}
