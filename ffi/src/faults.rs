//! Fault injection for tests (`vs_sync_fault_*`): only in the test build of
//! the library (cargo feature `test-util`), declared in
//! `include/vinesync_test.h`; never in the installed library or header.

use crate::error::{vs_error, Failure};
use crate::handles::guard;
use crate::runtime::block_on;
use crate::status::vs_status;
use crate::sync::{sync_handle, vs_sync};

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
        sync_handle(sync)?
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
        let s = sync_handle(sync)?;
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
        let s = sync_handle(sync)?;
        block_on(None, None, async {
            s.client
                .faults()
                .expire_leases()
                .await
                .map_err(Failure::from)
        })
    })
}

/// Fault injection for tests: deletes `key` (with create revision
/// `create_revision`, e.g. a guard's fencing token) as another client
/// would, e.g. to take a lock away from its holder (SPEC L6).
///
/// # Safety
/// `sync` live; `key` a C string.
#[no_mangle]
pub unsafe extern "C" fn vs_sync_fault_delete_key(
    sync: *const vs_sync,
    key: *const std::ffi::c_char,
    create_revision: i64,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let s = sync_handle(sync)?;
        let key = crate::handles::text("key", key)?;
        let deleted = block_on(None, None, async {
            s.client
                .faults()
                .delete_key(key, create_revision)
                .await
                .map_err(Failure::from)
        })?;
        if deleted {
            Ok(())
        } else {
            Err(Failure::new(
                vs_status::VS_NOT_LOCKED,
                format!("no key {key:?} at revision {create_revision}"),
            ))
        }
    })
}

/// Fault injection for tests: panics inside an export, as a bug would. The
/// call returns `VS_INTERNAL` with the panic's message in `*err`, and
/// nothing is printed to stderr.
///
/// # Safety
/// `err` NULL or writable.
#[no_mangle]
#[allow(clippy::panic)] // the point: a panic for the boundary to catch
pub unsafe extern "C" fn vs_sync_fault_panic(err: *mut *mut vs_error) -> vs_status {
    guard(err, || panic!("vs_sync_fault_panic was called"))
}
