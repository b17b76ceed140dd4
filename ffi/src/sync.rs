//! The sync handle: vine's `Sync` on memory or etcd.

use std::ffi::c_char;

use vinesync::{Client, Options};

use crate::cancel::{self, vs_cancel};
use crate::error::{vs_error, Failure};
use crate::handles::{free_box, guard, handle, out_ptr, put};
use crate::options::vs_options;
use crate::runtime::block_on;
use crate::status::vs_status;

/// A vinesync handle. Thread-safe: any number of threads may use one
/// handle at once. Locks belong to the handle, not to a thread.
pub struct vs_sync {
    pub(crate) client: Client,
}

fn options_or_default(options: *const vs_options) -> Options {
    // SAFETY: the caller passes NULL or live options.
    unsafe { options.as_ref() }.map_or_else(Options::new, |o| o.options.clone())
}

/// Runs a connecting future (cancellable) and hands out the new handle.
fn connect(
    cancel: *const vs_cancel,
    out: *mut *mut vs_sync,
    err: *mut *mut vs_error,
    connecting: impl std::future::Future<Output = vinesync::Result<Client>>,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let client = block_on(cancel::optional(cancel), None, async {
            connecting.await.map_err(Failure::from)
        })?;
        put(out, vs_sync { client });
        Ok(())
    })
}

/// A handle on the process-wide memory store (`options` may be NULL).
///
/// # Safety
/// `options` NULL or live; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn vs_sync_new_memory(
    options: *const vs_options,
    out: *mut *mut vs_sync,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let client = Client::memory(options_or_default(options))?;
        put(out, vs_sync { client });
        Ok(())
    })
}

/// A handle on etcd at the options' nodes (`options` may be NULL: vine's
/// defaults). Blocks until connected, the dial timeout passes
/// (`VS_UNAVAILABLE`) or `cancel` fires.
///
/// # Safety
/// As `vs_sync_new_memory`; `cancel` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_sync_new_etcd(
    options: *const vs_options,
    cancel: *const vs_cancel,
    out: *mut *mut vs_sync,
    err: *mut *mut vs_error,
) -> vs_status {
    let options = options_or_default(options);
    connect(cancel, out, err, Client::etcd(options))
}

/// etcd when `VINESYNC_NODES` is set, memory otherwise (options from the
/// `VINESYNC_*` environment variables).
///
/// # Safety
/// As `vs_sync_new_etcd`.
#[no_mangle]
pub unsafe extern "C" fn vs_sync_new_from_env(
    cancel: *const vs_cancel,
    out: *mut *mut vs_sync,
    err: *mut *mut vs_error,
) -> vs_status {
    connect(cancel, out, err, Client::from_env())
}

/// vine's `String()`: `"etcd"` or `"memory"` (a static string); `""` for NULL.
///
/// # Safety
/// `sync` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_sync_name(sync: *const vs_sync) -> *const c_char {
    // SAFETY: per the contract.
    match unsafe { sync.as_ref() }.map(|s| s.client.name()) {
        Some("etcd") => c"etcd".as_ptr(),
        Some(_) => c"memory".as_ptr(),
        None => c"".as_ptr(),
    }
}

/// Closes the handle: releases every lock and candidacy it holds (revokes
/// its leases); later calls on it return `VS_CLOSED`. Idempotent. A fired
/// `cancel` stops waiting for the releases (the handle is closed anyway).
///
/// # Safety
/// `sync` NULL or live; `cancel` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_sync_close(
    sync: *const vs_sync,
    cancel: *const vs_cancel,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let s = handle("sync", sync)?;
        block_on(cancel::optional(cancel), None, async {
            s.client.close().await;
            Ok(())
        })
    })
}

/// Closes (if needed) and frees `*sync`, setting it to NULL. Guards and
/// leaders made from it stay valid and must be freed too.
///
/// # Safety
/// `sync` NULL or points to NULL or to a handle from `vs_sync_new_*`; no
/// other thread may be using the handle.
#[no_mangle]
pub unsafe extern "C" fn vs_sync_free(sync: *mut *mut vs_sync) {
    if !sync.is_null() {
        // SAFETY: per the contract.
        if let Some(s) = unsafe { (*sync).as_ref() } {
            let _ = block_on(None, None, async {
                s.client.close().await;
                Ok(())
            });
        }
    }
    free_box(sync);
}

/// Fault injection for tests: stops (`suspended` = true) or resumes the
/// handle's lease keepalives, as a paused or partitioned process would.
/// Its locks are then lost after their TTL. Not for production use.
///
/// # Safety
/// `sync` live.
#[no_mangle]
pub unsafe extern "C" fn vs_sync_fault_suspend_keepalive(
    sync: *const vs_sync,
    suspended: bool,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        handle("sync", sync)?
            .client
            .faults()
            .suspend_keepalive(suspended);
        Ok(())
    })
}

/// Fault injection for tests: simulates `kill -9` of the handle's process:
/// keepalives stop, nothing is released, the handle is closed; its leases
/// expire after their TTL. Not for production use.
///
/// # Safety
/// `sync` live.
#[no_mangle]
pub unsafe extern "C" fn vs_sync_fault_crash(
    sync: *const vs_sync,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let s = handle("sync", sync)?;
        block_on(None, None, async {
            s.client.faults().crash().await;
            Ok(())
        })
    })
}

/// Fault injection for tests: the handle's leases vanish from the store
/// now, without the handle being told (as if they had expired).
///
/// # Safety
/// `sync` live.
#[no_mangle]
pub unsafe extern "C" fn vs_sync_fault_expire_leases(
    sync: *const vs_sync,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let s = handle("sync", sync)?;
        block_on(None, None, async {
            s.client
                .faults()
                .expire_leases()
                .await
                .map_err(Failure::from)
        })
    })
}
