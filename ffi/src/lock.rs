//! Locks: vine's Lock/Unlock plus try_lock and guards with fencing tokens
//! and a lost signal.

use std::ffi::c_char;
use std::time::Duration;

use vinesync::{LockGuard, LockOptions};

use crate::cancel::{self, vs_cancel};
use crate::error::{vs_error, Failure};
use crate::guard::vs_guard;
use crate::handles::{guard, text};
use crate::runtime::{block_on, finish_in_background};
use crate::status::vs_status;
use crate::sync::{sync_handle, vs_sync};

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
        crate::handles::put(out, vs_guard::new(held));
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
        let s = sync_handle(sync)?;
        let id = text("id", id)?;
        let options = lock_options(ttl_ms, wait_ms);
        let held = block_on(cancel::optional(cancel), None, async {
            s.client.lock(id, options).await.map_err(Failure::from)
        })?;
        deliver(held, out);
        Ok(())
    })
}

/// Takes lock `id` only if free now; `VS_WOULD_BLOCK` otherwise (no key is
/// left behind). `out` as in `vs_lock`; `cancel` cuts the request short.
///
/// # Safety
/// As `vs_lock`.
#[no_mangle]
pub unsafe extern "C" fn vs_try_lock(
    sync: *const vs_sync,
    id: *const c_char,
    ttl_ms: u64,
    cancel: *const vs_cancel,
    out: *mut *mut vs_guard,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let s = sync_handle(sync)?;
        let id = text("id", id)?;
        let options = lock_options(ttl_ms, 0);
        let held = block_on(cancel::optional(cancel), None, async {
            s.client.try_lock(id, options).await.map_err(Failure::from)
        })?;
        deliver(held, out);
        Ok(())
    })
}

/// vine's `Unlock`: releases the acquisition of `id` this handle holds.
/// `VS_NOT_LOCKED` if it holds none; `VS_LOST` if it was lost meanwhile.
/// A fired `cancel` stops the wait with `VS_CANCELLED`; the release then
/// completes in the background.
///
/// # Safety
/// `sync` live; `id` a C string; `cancel` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_unlock(
    sync: *const vs_sync,
    id: *const c_char,
    cancel: *const vs_cancel,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let s = sync_handle(sync)?;
        let (client, id) = (s.client.clone(), text("id", id)?.to_string());
        finish_in_background(cancel::optional(cancel), async move {
            client.unlock(&id).await.map_err(Failure::from)
        })
    })
}
