//! Locks: vine's Lock/Unlock plus try_lock and guards with fencing tokens
//! and a lost signal.

use std::ffi::c_char;
use std::time::Duration;

use vinesync::{LockGuard, LockOptions};

use crate::cancel::vs_cancel;
use crate::error::{vs_error, Failure};
use crate::handles::{free_box, guard, handle, handle_mut, text};
use crate::runtime::{block_on, runtime, timeout};
use crate::status::vs_status;
use crate::sync::vs_sync;

/// A held lock. Use it from one thread at a time (or guard it yourself);
/// freeing it releases the lock if it is still held.
pub struct vs_guard {
    guard: Option<LockGuard>,
    token: u64,
}

fn lock_options(ttl_ms: u64, wait_ms: u64) -> LockOptions {
    let ttl = if ttl_ms == 0 {
        vinesync::DEFAULT_LOCK_TTL
    } else {
        Duration::from_millis(ttl_ms)
    };
    // C keeps vine's meaning: a zero wait is no limit.
    let options = LockOptions::new().ttl(ttl);
    if wait_ms == 0 {
        options
    } else {
        options.wait(Duration::from_millis(wait_ms))
    }
}

fn deliver(held: LockGuard, out: *mut *mut vs_guard) {
    if out.is_null() {
        // vine style: the handle keeps it until vs_unlock(id).
        held.detach();
    } else {
        let token = held.fencing_token();
        crate::handles::put(
            out,
            vs_guard {
                guard: Some(held),
                token,
            },
        );
    }
}

/// vine's `Lock`: blocks until lock `id` is held, `wait_ms` passes
/// (`VS_LOCK_TIMEOUT`; 0 = wait without limit) or `cancel` fires
/// (`VS_CANCELLED`; the waiter key is removed). `ttl_ms` is the lease TTL
/// (0 = 60 s; at least 1000). With `out` NULL the lock is held by the
/// handle until `vs_unlock(sync, id)`; otherwise `*out` is a guard.
///
/// # Safety
/// `sync` live; `id` a C string; `cancel` NULL or live; `out`, `err` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn vs_lock(
    sync: *const vs_sync,
    id: *const c_char,
    ttl_ms: u64,
    wait_ms: u64,
    cancel: *const vs_cancel,
    out: *mut *mut vs_guard,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let s = handle("sync", sync)?;
        let id = text("id", id)?;
        // SAFETY: NULL or live, per the contract.
        let cancel = unsafe { cancel.as_ref() };
        let options = lock_options(ttl_ms, wait_ms);
        let held = block_on(cancel, None, async {
            s.client.lock(id, options).await.map_err(Failure::from)
        })?;
        deliver(held, out);
        Ok(())
    })
}

/// Takes lock `id` only if free now; `VS_WOULD_BLOCK` otherwise (no key is
/// left behind). `out` as in `vs_lock`.
///
/// # Safety
/// As `vs_lock`.
#[no_mangle]
pub unsafe extern "C" fn vs_try_lock(
    sync: *const vs_sync,
    id: *const c_char,
    ttl_ms: u64,
    out: *mut *mut vs_guard,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let s = handle("sync", sync)?;
        let id = text("id", id)?;
        let options = lock_options(ttl_ms, 0);
        let held = block_on(None, None, async {
            s.client.try_lock(id, options).await.map_err(Failure::from)
        })?;
        deliver(held, out);
        Ok(())
    })
}

/// vine's `Unlock`: releases the acquisition of `id` this handle holds.
/// `VS_NOT_LOCKED` if it holds none; `VS_LOST` if it was lost meanwhile.
///
/// # Safety
/// `sync` live; `id` a C string.
#[no_mangle]
pub unsafe extern "C" fn vs_unlock(
    sync: *const vs_sync,
    id: *const c_char,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let s = handle("sync", sync)?;
        let id = text("id", id)?;
        block_on(None, None, async {
            s.client.unlock(id).await.map_err(Failure::from)
        })
    })
}

/// The guard's fencing token (SPEC L5); 0 for NULL.
///
/// # Safety
/// `g` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_fencing_token(g: *const vs_guard) -> u64 {
    // SAFETY: per the contract.
    unsafe { g.as_ref() }.map_or(0, |g| g.token)
}

/// Whether the lock is known lost (lease expired or key deleted: SPEC L6).
/// True for NULL and for a released guard.
///
/// # Safety
/// `g` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_is_lost(g: *const vs_guard) -> bool {
    let lost = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: per the contract.
        let Some(held) = unsafe { g.as_ref() }.and_then(|g| g.guard.as_ref()) else {
            return true;
        };
        // The lost watcher is spawned on the library runtime.
        match runtime() {
            Ok(rt) => {
                let _entered = rt.enter();
                held.is_lost()
            }
            Err(_) => true,
        }
    }));
    lost.unwrap_or(true)
}

/// Blocks until the lock is lost (`VS_OK`), `timeout_ms` passes
/// (`VS_TIMED_OUT`; 0 = no limit) or `cancel` fires.
///
/// # Safety
/// `g` live; `cancel` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_wait_lost(
    g: *const vs_guard,
    timeout_ms: u64,
    cancel: *const vs_cancel,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let g = handle("guard", g)?;
        let Some(held) = g.guard.as_ref() else {
            return Ok(());
        };
        // SAFETY: NULL or live, per the contract.
        let cancel = unsafe { cancel.as_ref() };
        block_on(cancel, timeout(timeout_ms), async {
            held.lost().await;
            Ok(())
        })
    })
}

/// Releases the lock now. `VS_NOT_LOCKED` if already released (by this
/// call or `vs_unlock`); `VS_LOST` if it had been lost. Free the guard after.
///
/// # Safety
/// `g` live and not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_unlock(g: *mut vs_guard, err: *mut *mut vs_error) -> vs_status {
    guard(err, || {
        let g = handle_mut("guard", g)?;
        let Some(held) = g.guard.take() else {
            return Err(Failure::new(
                vs_status::VS_NOT_LOCKED,
                "the guard was already released",
            ));
        };
        block_on(None, None, async {
            held.unlock().await.map_err(Failure::from)
        })
    })
}

/// Frees `*g` (releasing the lock if still held) and sets it to NULL.
///
/// # Safety
/// `g` NULL or points to NULL or to a guard from `vs_lock`/`vs_try_lock`.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_free(g: *mut *mut vs_guard) {
    // Dropping a guard spawns its release on the runtime: enter it first.
    let _entered = runtime().ok().map(|rt| rt.enter());
    free_box(g);
}
