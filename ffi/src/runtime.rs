//! The library's one tokio runtime, started on first use; blocking calls run
//! their future on it, racing the caller's cancel token and timeout.

use std::future::Future;
use std::time::Duration;

use once_cell::sync::OnceCell;
use tokio::runtime::Runtime;

use crate::cancel::vs_cancel;
use crate::error::Failure;
use crate::status::vs_status;

static RUNTIME: OnceCell<Runtime> = OnceCell::new();

pub(crate) fn runtime() -> Result<&'static Runtime, Failure> {
    RUNTIME.get_or_try_init(|| {
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
    F: Future<Output = Result<T, Failure>>,
{
    let runtime = runtime()?;
    if cancel.is_some_and(vs_cancel::is_fired) {
        return Err(cancelled());
    }
    // Most calls on the memory store (and every call that fails at once)
    // finish in their first poll: try that without entering `block_on`,
    // whose set-up costs more than such a call.
    let mut work = std::pin::pin!(work);
    {
        let _context = runtime.enter();
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        if let std::task::Poll::Ready(result) = work.as_mut().poll(&mut context) {
            return result;
        }
    }
    runtime.block_on(async {
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
    })
}

fn cancelled() -> Failure {
    Failure::new(
        vs_status::VS_CANCELLED,
        "cancelled by the caller's cancel token",
    )
}
