//! Lock inspection: who holds a lock and who waits for it, read only
//! (the core's `Client::lock_info`).

use std::ffi::{c_char, CString};

use vinesync::LockEntry;

use crate::cancel::{self, vs_cancel};
use crate::error::{vs_error, Failure};
use crate::handles::{free_box, guard, out_ptr, put, text};
use crate::runtime::block_on;
use crate::status::vs_status;
use crate::sync::{sync_handle, vs_sync};

/// One acquisition (held or waiting) of a lock; owned by its `vs_lock_info`.
pub struct vs_lock_entry {
    key: CString,
    fencing_token: u64,
    lease: i64,
    host: CString,
    pid: u32,
    handle: CString,
    value: CString,
}

/// A lock's holder and waiters, read at one revision.
pub struct vs_lock_info {
    holder: Option<vs_lock_entry>,
    waiters: Vec<vs_lock_entry>,
}

fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "")).unwrap_or_default()
}

fn to_entry(entry: &LockEntry) -> vs_lock_entry {
    vs_lock_entry {
        key: c_string(&entry.key),
        fencing_token: entry.fencing_token,
        lease: entry.lease,
        host: c_string(entry.host.as_deref().unwrap_or("")),
        pid: entry.pid.unwrap_or(0),
        handle: c_string(entry.handle.as_deref().unwrap_or("")),
        value: c_string(entry.value.as_deref().unwrap_or("")),
    }
}

/// Reads lock `id`: its holder (none when free) and its waiters, next one
/// first. Writes nothing. Free `*out` with `vs_lock_info_free`.
///
/// # Safety
/// `sync` live; `id` a C string; `cancel` NULL or live; `out` writable;
/// `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn vs_inspect_lock(
    sync: *const vs_sync,
    id: *const c_char,
    cancel: *const vs_cancel,
    out: *mut *mut vs_lock_info,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let s = sync_handle(sync)?;
        let id = text("id", id)?;
        let info = block_on(cancel::optional(cancel), None, async {
            s.client.lock_info(id).await.map_err(Failure::from)
        })?;
        put(
            out,
            vs_lock_info {
                holder: info.holder.as_ref().map(to_entry),
                waiters: info.waiters.iter().map(to_entry).collect(),
            },
        );
        Ok(())
    })
}

/// The holder, owned by `info`; NULL when the lock is free (or `info` NULL).
///
/// # Safety
/// `info` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_lock_info_holder(info: *const vs_lock_info) -> *const vs_lock_entry {
    // SAFETY: per the contract.
    unsafe { info.as_ref() }
        .and_then(|i| i.holder.as_ref())
        .map_or(std::ptr::null(), |e| e as *const vs_lock_entry)
}

/// Number of waiters; 0 for NULL.
///
/// # Safety
/// `info` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_lock_info_waiter_count(info: *const vs_lock_info) -> usize {
    // SAFETY: per the contract.
    unsafe { info.as_ref() }.map_or(0, |i| i.waiters.len())
}

/// Waiter `i` (0 = next to get the lock), owned by `info`; NULL when out
/// of range.
///
/// # Safety
/// `info` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_lock_info_waiter(
    info: *const vs_lock_info,
    i: usize,
) -> *const vs_lock_entry {
    // SAFETY: per the contract.
    unsafe { info.as_ref() }
        .and_then(|info| info.waiters.get(i))
        .map_or(std::ptr::null(), |e| e as *const vs_lock_entry)
}

/// Frees `*info` and sets it to NULL.
///
/// # Safety
/// `info` NULL or points to NULL or to a result of `vs_inspect_lock`.
#[no_mangle]
pub unsafe extern "C" fn vs_lock_info_free(info: *mut *mut vs_lock_info) {
    free_box(info);
}

/// The key the acquisition wrote.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_lock_entry_key(e: *const vs_lock_entry) -> *const c_char {
    // SAFETY: per the contract.
    unsafe { e.as_ref() }.map_or(c"".as_ptr(), |e| e.key.as_ptr())
}

/// The fencing token it has or will have (its key's create revision).
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_lock_entry_fencing_token(e: *const vs_lock_entry) -> u64 {
    // SAFETY: per the contract.
    unsafe { e.as_ref() }.map_or(0, |e| e.fencing_token)
}

/// The lease its key is attached to.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_lock_entry_lease(e: *const vs_lock_entry) -> i64 {
    // SAFETY: per the contract.
    unsafe { e.as_ref() }.map_or(0, |e| e.lease)
}

/// Host name of the process; "" when the key was not written by vinesync.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_lock_entry_host(e: *const vs_lock_entry) -> *const c_char {
    // SAFETY: per the contract.
    unsafe { e.as_ref() }.map_or(c"".as_ptr(), |e| e.host.as_ptr())
}

/// Process id; 0 when the key was not written by vinesync.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_lock_entry_pid(e: *const vs_lock_entry) -> u32 {
    // SAFETY: per the contract.
    unsafe { e.as_ref() }.map_or(0, |e| e.pid)
}

/// The vinesync handle's id; "" when the key was not written by vinesync.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_lock_entry_handle(e: *const vs_lock_entry) -> *const c_char {
    // SAFETY: per the contract.
    unsafe { e.as_ref() }.map_or(c"".as_ptr(), |e| e.handle.as_ptr())
}

/// The raw value when the key was written by another tool (e.g. "" for
/// `etcdctl lock`); "" for vinesync's keys.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_lock_entry_value(e: *const vs_lock_entry) -> *const c_char {
    // SAFETY: per the contract.
    unsafe { e.as_ref() }.map_or(c"".as_ptr(), |e| e.value.as_ptr())
}
