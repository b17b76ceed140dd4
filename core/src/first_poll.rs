//! Running a future's first step on the calling thread. Most calls on the
//! memory store (and every call that fails at once) finish in their first
//! poll: polling once, in the runtime's context, costs less than a task, a
//! `block_on` or a thread switch. What is not done after that poll goes on
//! some other way, from where it stopped.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::runtime::Handle;

/// Whether this thread can still enter a runtime: false once its
/// thread-locals are destroyed (the main thread during `exit()`).
pub fn thread_can_enter_a_runtime() -> bool {
    !matches!(Handle::try_current(), Err(e) if e.is_thread_local_destroyed())
}

/// Polls `work` once in `runtime`'s context, with a waker that wakes
/// nobody (the caller polls again some other way, which registers a real
/// one). `Pending` without polling when this thread can no longer enter a
/// runtime.
pub fn poll_once<F: Future + ?Sized>(runtime: &Handle, work: Pin<&mut F>) -> Poll<F::Output> {
    if !thread_can_enter_a_runtime() {
        return Poll::Pending;
    }
    let _context = runtime.enter();
    work.poll(&mut Context::from_waker(Waker::noop()))
}
