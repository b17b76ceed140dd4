//! The module's tokio runtime and the two ways Python waits for it:
//! [`wait`] blocks the calling thread with the GIL released, checking for
//! signals every [`SIGNAL_POLL`], and [`awaitable`] hands the result to an
//! asyncio future.
//!
//! After `os.fork()` the parent's runtime threads do not exist in the child,
//! so the child gets a runtime of its own on first use (the parent's is
//! leaked: it can be neither used nor dropped there).

use std::future::Future;
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

use crate::errors::to_py;

/// How often a blocked call wakes up to let Python handle signals (Ctrl-C).
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// How long an interrupted call waits for its work to be dropped (which
/// starts removing a waiter key: SPEC L8) before raising.
const DROP_GRACE: Duration = Duration::from_secs(1);

struct ProcessRuntime {
    pid: u32,
    runtime: &'static Runtime,
}

static RUNTIME: Mutex<Option<ProcessRuntime>> = Mutex::new(None);

/// This process's runtime, started on first use.
pub fn runtime() -> PyResult<&'static Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(current) = slot.as_ref().filter(|r| r.pid == pid) {
        return Ok(current.runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("vinesync")
        .on_thread_start(vinesync::host::block_sigpipe)
        .enable_all()
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("vinesync: cannot start its runtime: {e}")))?;
    let runtime: &'static Runtime = Box::leak(Box::new(runtime));
    *slot = Some(ProcessRuntime { pid, runtime });
    Ok(runtime)
}

/// Runs `work` on the runtime and blocks until it ends, with the GIL
/// released so other Python threads run. A pending signal (Ctrl-C) aborts
/// the work — dropping it undoes what it started — and raises.
pub fn wait<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = vinesync::Result<T>> + Send + 'static,
{
    let runtime = runtime()?;
    // Most calls on the memory store (and every call that fails at once)
    // finish in their first poll: try that here, without a thread switch
    // and without releasing the GIL. Only work that must wait is spawned.
    let mut work = Box::pin(work);
    {
        let _context = runtime.enter();
        let mut context = Context::from_waker(Waker::noop());
        if let Poll::Ready(result) = work.as_mut().poll(&mut context) {
            return result.map_err(|e| to_py(py, &e));
        }
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
        match py.detach(|| receive(SIGNAL_POLL)) {
            Ok(result) => return result.map_err(|e| to_py(py, &e)),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(interrupted) = py.check_signals() {
                    task.abort();
                    // The sender goes when the work is dropped.
                    let _ = py.detach(|| receive(DROP_GRACE));
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

/// Starts `work` on the runtime and returns a coroutine (`vinesync._aio.wait`)
/// awaiting an asyncio future of the running loop that gets its result
/// (converted by `convert`, with the GIL held). Cancelling the awaiting
/// task aborts the work (see [`Work`]). A result that arrives
/// after the future was cancelled is handed to `vinesync._aio.settle`, which releases
/// it (a lock taken too late is unlocked: SPEC L8).
pub fn awaitable<'py, T, F, C>(py: Python<'py>, work: F, convert: C) -> PyResult<Bound<'py, PyAny>>
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
    let task = runtime.spawn(async move {
        let result = work.await;
        // Taking the GIL may wait; keep it off the runtime's worker threads.
        let _ = tokio::task::spawn_blocking(move || {
            Python::try_attach(|py| {
                let (ok, value) = match result
                    .map_err(|e| to_py(py, &e))
                    .and_then(|v| convert(py, v))
                {
                    Ok(value) => (true, value),
                    Err(error) => (false, error.into_value(py).into_any()),
                };
                let delivered = event_loop.call_method1(
                    py,
                    "call_soon_threadsafe",
                    (settle.clone_ref(py), target, ok, value.clone_ref(py)),
                );
                if delivered.is_err() && ok {
                    // The loop is closed: nobody will ever see the value.
                    let _ = settle.call1(py, (py.None(), true, value));
                }
            })
        })
        .await;
    });
    let work = Work {
        task: task.abort_handle(),
    };
    aio.getattr("wait")?.call1((future, work))
}

/// The runtime task behind an awaitable. `vinesync._aio.wait` cancels it
/// when the awaiting task ends early (cancelled before or while waiting);
/// dropping it (a coroutine never awaited) cancels it too. Cancelling a
/// finished task does nothing.
#[pyclass(frozen)]
struct Work {
    task: AbortHandle,
}

#[pymethods]
impl Work {
    fn cancel(&self) {
        self.task.abort();
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        self.task.abort();
    }
}
