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
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};
use vinesync::host::{poll_once, thread_can_enter_a_runtime};

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
    vinesync::host::runtime().map_err(|e| {
        Failure::new(
            vs_status::VS_INTERNAL,
            format!("cannot start the runtime: {e}"),
        )
    })
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
    if !thread_can_enter_a_runtime() {
        // Owned by the detached task: dropped there, in the runtime.
        return run_detached(runtime.handle(), async move {
            if cancel.is_some_and(vs_cancel::is_fired) {
                return Err(cancelled());
            }
            let work = std::pin::pin!(work);
            race(cancel, limit, work).await
        });
    }
    // In the runtime's context until this returns. Declared before `work`,
    // so `work` is dropped inside it on every path: a destructor may need
    // the runtime (e.g. the revoke of a lease grant whose answer nobody
    // took: SPEC H3).
    let _context = runtime.enter();
    // Pinned here once: the race borrows it, so the (large) future of the
    // call is not copied again into the race's future and its `select!`.
    // (Moved out of the parameter, which would be dropped after `_context`.)
    let work = std::pin::pin!(work);
    if cancel.is_some_and(vs_cancel::is_fired) {
        return Err(cancelled());
    }
    let mut raced = std::pin::pin!(race(cancel, limit, work));
    // Most calls on the memory store (and every call that fails at once)
    // finish in their first poll: try that without entering `block_on`,
    // whose set-up costs more than such a call. (In the runtime's context
    // already: no `poll_once`, which would check and enter it again.)
    let mut first_poll = Context::from_waker(Waker::noop());
    if let Poll::Ready(result) = raced.as_mut().poll(&mut first_poll) {
        #[cfg(test)]
        tests::FIRST_POLL_ENDS.with(|n| n.set(n.get() + 1));
        return result;
    }
    runtime.block_on(raced)
}

async fn race<T, F>(
    cancel: Option<&vs_cancel>,
    limit: Option<Duration>,
    work: Pin<&mut F>,
) -> Result<T, Failure>
where
    F: Future<Output = Result<T, Failure>>,
{
    // Nothing to race (no token, no timeout: most calls): the call alone,
    // without the cost of `select!` and its two idle branches.
    if cancel.is_none() && limit.is_none() {
        return work.await;
    }
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
/// still completes (for releases, which must not stop half-way). A token
/// fired before the call stops the waiting too, not the release: the
/// release starts all the same (SPEC H2).
pub(crate) fn finish_in_background<T, F>(cancel: Option<&vs_cancel>, work: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Failure>> + Send + 'static,
{
    let fired_before = cancel.is_some_and(vs_cancel::is_fired);
    let runtime = runtime()?;
    // A release on the memory store (and one that fails at once) finishes
    // in its first poll: run that poll here, in the runtime's context,
    // instead of a task and a thread switch. Work that is not done after it
    // goes on as a task from where it stopped, so it still runs to
    // completion whatever the caller does (SPEC H2).
    let mut work = Box::pin(work);
    if let Poll::Ready(result) = poll_once(runtime.handle(), work.as_mut()) {
        return if fired_before {
            Err(cancelled())
        } else {
            result
        };
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
    if thread_can_enter_a_runtime() {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::cancel::{optional, vs_cancel_fire, vs_cancel_free, vs_cancel_new};

    thread_local! {
        /// Calls of this thread that ended in their first poll.
        pub(super) static FIRST_POLL_ENDS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// Records whether a runtime was current where it was dropped.
    struct DropProbe(Arc<AtomicBool>);

    impl Drop for DropProbe {
        fn drop(&mut self) {
            let current = tokio::runtime::Handle::try_current().is_ok();
            self.0.store(current, Ordering::SeqCst);
        }
    }

    /// Runs the call `make` builds around a [`DropProbe`] through
    /// `block_on`, with a new cancel token (fired first if `fired`; `make`
    /// gets its address) and `limit`. Returns whether the call failed and
    /// whether the probe was dropped where a runtime was current.
    fn probed<F>(
        fired: bool,
        limit: Option<Duration>,
        make: impl FnOnce(DropProbe, usize) -> F,
    ) -> (bool, bool)
    where
        F: Future<Output = Result<(), Failure>> + Send,
    {
        let mut token = vs_cancel_new();
        if fired {
            // SAFETY: a live token.
            unsafe { vs_cancel_fire(token) };
        }
        let in_runtime = Arc::new(AtomicBool::new(false));
        let call = make(DropProbe(in_runtime.clone()), token as usize);
        let failed = block_on(optional(token), limit, call).is_err();
        // SAFETY: no call uses the token any more.
        unsafe { vs_cancel_free(&mut token) };
        (failed, in_runtime.load(Ordering::SeqCst))
    }

    /// A call's future that loses the race (timed out, cancelled) is
    /// dropped in the runtime's context, on the first-poll path and after
    /// `block_on` alike: destructors may spawn cleanups (SPEC H3).
    #[test]
    fn a_call_that_loses_the_race_is_dropped_in_the_runtime() {
        // After `block_on`: a timeout that ends a call that never finishes.
        let (failed, in_runtime) = probed(
            false,
            Some(Duration::from_millis(20)),
            |probe, _| async move {
                let _probe = probe;
                std::future::pending::<()>().await;
                Ok(())
            },
        );
        assert!(failed, "a call that never ends timed out");
        assert!(in_runtime, "dropped outside the runtime after block_on");
        // The first poll: the call fires its own token, so the race ends in
        // that poll whenever `select!` looks at the token after the call (it
        // starts at a random branch: 2 times in 3).
        let mut first_polls = 0;
        for _ in 0..32 {
            let before = FIRST_POLL_ENDS.with(std::cell::Cell::get);
            let (failed, in_runtime) = probed(false, None, |probe, token| async move {
                let _probe = probe;
                // SAFETY: the token is freed only after block_on returns.
                unsafe { vs_cancel_fire(token as *const vs_cancel) };
                std::future::pending::<()>().await;
                Ok(())
            });
            if FIRST_POLL_ENDS.with(std::cell::Cell::get) > before {
                first_polls += 1;
            }
            assert!(failed, "a cancelled call was cancelled");
            assert!(in_runtime, "dropped outside the runtime");
        }
        // Fired before the call: refused before the race, in the runtime too.
        let (failed, in_runtime) = probed(true, None, |probe, _| async move {
            let _probe = probe;
            Ok(())
        });
        assert!(failed, "a call with a fired token is refused");
        assert!(in_runtime, "refused call dropped outside the runtime");
        assert!(
            first_polls > 0,
            "no call ended in its first poll: the path was not tested"
        );
    }

    /// The fast path: a release done in its first poll runs on the caller's
    /// thread (no task, no thread switch).
    #[test]
    fn a_release_done_in_its_first_poll_runs_on_the_caller() {
        let caller = std::thread::current().id();
        let ran_on = finish_in_background(None, async move { Ok(std::thread::current().id()) });
        assert!(matches!(ran_on, Ok(id) if id == caller));
    }

    /// SPEC H2 with the fast path: a release that is not done in its first
    /// poll goes on as a task from where it stopped, and completes even
    /// when the caller's cancel token fires first.
    #[test]
    fn a_release_that_must_wait_completes_after_the_caller_is_cancelled() {
        let token = vs_cancel_new();
        assert!(!token.is_null());
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (counted, finished) = (polls.clone(), done.clone());
        let address = token as usize;
        let firer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            // SAFETY: the token outlives this thread (joined below).
            unsafe { vs_cancel_fire(address as *const vs_cancel) };
        });
        let outcome = finish_in_background(optional(token), async move {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = wait.await; // not ready in the first poll
            finished.store(true, Ordering::SeqCst);
            Ok(())
        });
        firer.join().unwrap();
        assert!(
            matches!(&outcome, Err(f) if f.status == vs_status::VS_CANCELLED),
            "the caller stops waiting when its token fires"
        );
        assert!(!done.load(Ordering::SeqCst));
        go.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done.load(Ordering::SeqCst) {
            assert!(
                Instant::now() < deadline,
                "the release was dropped when its caller stopped waiting (SPEC H2)"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // Polled in place, then resumed as a task: never started twice.
        assert_eq!(polls.load(Ordering::SeqCst), 1);
        let mut token = token;
        // SAFETY: made by vs_cancel_new, no call uses it any more.
        unsafe { vs_cancel_free(&mut token) };
    }
}
