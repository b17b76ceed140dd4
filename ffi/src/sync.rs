//! The sync handle: vine's `Sync` on memory or etcd.

use std::ffi::c_char;

use vinesync::{Client, Options};

use crate::cancel::{self, vs_cancel};
use crate::error::{vs_error, Failure};
use crate::handles::{free_handle, guard, handle, out_ptr, put};
use crate::live;
use crate::options::vs_options;
use crate::owner::Owner;
use crate::runtime::{block_on, dispose, finish_in_background};
use crate::status::vs_status;

/// A vinesync handle. Thread-safe: any number of threads may use one
/// handle at once. Locks belong to the handle, not to a thread.
pub struct vs_sync {
    pub(crate) client: Client,
    pub(crate) owner: Owner,
    /// Its entry among the handles closed at exit (`live`).
    live_id: u64,
}

impl vs_sync {
    fn new(client: Client) -> Self {
        vs_sync {
            live_id: live::register(&client),
            client,
            owner: Owner::here(),
        }
    }
}

/// A required sync handle, usable in this process (`VS_CLOSED` after fork).
pub(crate) fn sync_handle<'a>(sync: *const vs_sync) -> Result<&'a vs_sync, Failure> {
    let s = handle("sync", sync)?;
    s.owner.check("vs_sync")?;
    Ok(s)
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
    connecting: impl std::future::Future<Output = vinesync::Result<Client>> + Send,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let client = block_on(cancel::optional(cancel), None, async {
            connecting.await.map_err(Failure::from)
        })?;
        put(out, vs_sync::new(client));
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
        put(out, vs_sync::new(client));
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

/// vine's `Init`: replaces the handle's options. Locks and candidacies
/// already held keep their keys; new calls use the new prefix. On etcd a
/// change of nodes, timeouts, TLS or credentials reconnects (bounded by the
/// dial timeout, or until `cancel` fires).
///
/// # Safety
/// `sync` live; `options` live; `cancel` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_sync_init(
    sync: *const vs_sync,
    options: *const vs_options,
    cancel: *const vs_cancel,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let s = sync_handle(sync)?;
        let options = handle("options", options)?.options.clone();
        block_on(cancel::optional(cancel), None, async {
            s.client.init(options).await.map_err(Failure::from)
        })
    })
}

/// vine's `Options`: a copy of the handle's current options (free it with
/// `vs_options_free`; read it with `vs_options_get_*`).
///
/// # Safety
/// `sync` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vs_sync_options(
    sync: *const vs_sync,
    out: *mut *mut vs_options,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let options = sync_handle(sync)?.client.options();
        put(out, vs_options { options });
        Ok(())
    })
}

/// Closes the handle: releases every lock and candidacy it holds (revokes
/// its leases); later calls on it return `VS_CLOSED`. Idempotent. A fired
/// `cancel` returns `VS_CANCELLED` at once; the handle is closed anyway and
/// the releases complete in the background (SPEC H2).
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
        let client = sync_handle(sync)?.client.clone();
        finish_in_background(cancel::optional(cancel), async move {
            client.close().await;
            Ok(())
        })
    })
}

/// Closes (if needed) and frees `*sync`, setting it to NULL. Closing
/// releases every lock and candidacy of the handle before this returns
/// (bounded by the request timeout), so nothing is left to its TTL when
/// etcd is reachable. Guards and leaders made from it stay valid (their
/// calls return `VS_CLOSED`) and must be freed too. Safe at process exit
/// (atexit handlers, C++ global destructors). In a child of `fork()`, a
/// handle of the parent is only forgotten: the parent's locks stay the
/// parent's.
///
/// # Safety
/// `sync` NULL or points to NULL or to a handle from `vs_sync_new_*`; no
/// other thread may be using the handle.
#[no_mangle]
pub unsafe extern "C" fn vs_sync_free(sync: *mut *mut vs_sync) {
    free_handle(
        sync,
        |s| s.owner,
        |s| {
            live::forget(s.live_id);
            let _ = block_on(None, None, async {
                s.client.close().await;
                Ok(())
            });
            dispose(s);
        },
    );
}
