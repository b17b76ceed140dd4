//! The library's tokio runtime, one per process: started on first use, and
//! again in a child of `fork()` (whose copy of the parent's runtime has no
//! worker threads). Blocking calls run their future on it, racing the
//! caller's cancel token and timeout.
//!
//! At process exit (atexit handlers, C++ global destructors) glibc has
//! already destroyed the calling thread's thread-locals, so the runtime can
//! no longer be entered from that thread: calls then hand their future to a
//! worker thread and wait for it there ("detached"), which needs no
//! thread-local of the caller.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};

use crate::cancel::vs_cancel;
use crate::error::Failure;
use crate::owner::PerProcess;
use crate::status::vs_status;

static RUNTIME: PerProcess<Runtime> = PerProcess::new();

pub(crate) fn runtime() -> Result<&'static Runtime, Failure> {
    RUNTIME.get_or_try_init(|| {
        crate::panic_hook::install();
        build()
    })
}

fn build() -> Result<Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("vinesync")
        .on_thread_start(vinesync::host::block_sigpipe)
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                vs_status::VS_INTERNAL,
                format!("cannot start the runtime: {e}"),
            )
        })
}

/// Whether this thread can still enter a runtime: false once its
/// thread-locals are destroyed (the main thread during `exit()`).
fn caller_can_enter() -> bool {
    !matches!(Handle::try_current(), Err(e) if e.is_thread_local_destroyed())
}

/// `timeout_ms` as a C caller gives it: 0 = no timeout.
pub(crate) fn timeout(timeout_ms: u64) -> Option<Duration> {
    (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms))
}

/// Runs `work` to completion on the runtime, unless `cancel` fires first
/// (`VS_CANCELLED`) or `limit` passes (`VS_TIMED_OUT`). Losing the race
/// drops `work`, which undoes what it started (e.g. a waiter key: SPEC L8).
pub(crate) fn block_on<T, F>(
    cancel: Option<&vs_cancel>,
    limit: Option<Duration>,
    work: F,
) -> Result<T, Failure>
where
    T: Send,
    F: Future<Output = Result<T, Failure>> + Send,
{
    let runtime = runtime()?;
    if cancel.is_some_and(vs_cancel::is_fired) {
        return Err(cancelled());
    }
    let raced = race(cancel, limit, work);
    if !caller_can_enter() {
        return run_detached(runtime.handle(), raced);
    }
    // Most calls on the memory store (and every call that fails at once)
    // finish in their first poll: try that without entering `block_on`,
    // whose set-up costs more than such a call.
    let mut raced = std::pin::pin!(raced);
    {
        let _context = runtime.enter();
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        if let std::task::Poll::Ready(result) = raced.as_mut().poll(&mut context) {
            return result;
        }
    }
    runtime.block_on(raced)
}

async fn race<T, F>(
    cancel: Option<&vs_cancel>,
    limit: Option<Duration>,
    work: F,
) -> Result<T, Failure>
where
    F: Future<Output = Result<T, Failure>>,
{
    let cancelled_signal = async {
        match cancel {
            Some(token) => token.fired().await,
            None => std::future::pending().await,
        }
    };
    let deadline = async {
        match limit {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        result = work => result,
        () = cancelled_signal => Err(cancelled()),
        () = deadline => Err(Failure::new(vs_status::VS_TIMED_OUT, "nothing happened before the timeout")),
    }
}

/// The result slot a detached task fills; `done` is set even when the task
/// panics (by `Finished`'s drop during unwinding).
struct Slot<T> {
    state: Mutex<(Option<T>, bool)>,
    done: Condvar,
}

struct Finished<T>(Arc<Slot<T>>);

impl<T> Drop for Finished<T> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 = true;
        self.0.done.notify_all();
    }
}

/// Runs `work` on a worker thread and waits for it without touching the
/// caller's thread-locals.
fn run_detached<'a, T: Send + 'a>(
    handle: &Handle,
    work: impl Future<Output = Result<T, Failure>> + Send + 'a,
) -> Result<T, Failure> {
    let slot = Arc::new(Slot {
        state: Mutex::new((None, false)),
        done: Condvar::new(),
    });
    let finished = Finished(slot.clone());
    let task: Pin<Box<dyn Future<Output = ()> + Send + 'a>> = Box::pin(async move {
        let result = work.await;
        finished.0.state.lock().unwrap_or_else(|e| e.into_inner()).0 = Some(result);
        drop(finished);
    });
    // SAFETY: the task borrows from the caller's frame ('a), and this
    // function does not return before the task has finished or unwound
    // (`Finished` sets `done` in both cases), so every borrow outlives its
    // uses.
    let task: Pin<Box<dyn Future<Output = ()> + Send + 'static>> =
        unsafe { std::mem::transmute(task) };
    drop(handle.spawn(task));
    let mut state = slot.state.lock().unwrap_or_else(|e| e.into_inner());
    while !state.1 {
        state = slot.done.wait(state).unwrap_or_else(|e| e.into_inner());
    }
    state.0.take().unwrap_or_else(|| {
        Err(Failure::new(
            vs_status::VS_INTERNAL,
            "internal error (a panic was caught); please report it",
        ))
    })
}

/// Runs `work` as a task of its own and waits for it like `block_on`; if
/// `cancel` fires the caller gets `VS_CANCELLED` at once while the task
/// still completes (for releases, which must not stop half-way).
pub(crate) fn finish_in_background<T, F>(cancel: Option<&vs_cancel>, work: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Failure>> + Send + 'static,
{
    if cancel.is_some_and(vs_cancel::is_fired) {
        return Err(cancelled());
    }
    let runtime = runtime()?;
    // A release on the memory store (and one that fails at once) finishes
    // in its first poll: run that poll here, in the runtime's context,
    // instead of a task and a thread switch. Work that is not done after it
    // goes on as a task from where it stopped, so it still runs to
    // completion whatever the caller does (SPEC H2).
    let mut work = Box::pin(work);
    if caller_can_enter() {
        let _context = runtime.enter();
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        if let std::task::Poll::Ready(result) = work.as_mut().poll(&mut context) {
            return result;
        }
    }
    let task = runtime.spawn(work);
    block_on(cancel, None, async move {
        task.await
            .unwrap_or_else(|_| Err(crate::handles::caught_panic()))
    })
}

/// Drops `value` where its destructor may use the runtime: in the runtime's
/// context on this thread, or on a worker thread at process exit.
pub(crate) fn dispose<T: Send>(value: T) {
    let Ok(runtime) = runtime() else {
        // No runtime: nothing of ours can be running; leak rather than risk
        // a destructor that needs one.
        std::mem::forget(value);
        return;
    };
    if caller_can_enter() {
        let _context = runtime.enter();
        drop(value);
    } else {
        let _ = run_detached(runtime.handle(), async move {
            drop(value);
            Ok(())
        });
    }
}

fn cancelled() -> Failure {
    Failure::new(
        vs_status::VS_CANCELLED,
        "cancelled by the caller's cancel token",
    )
}
