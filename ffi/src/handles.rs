//! Pointers in and out: the panic guard every export runs in, argument
//! checks, and boxing/unboxing of handles.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{report, vs_error, Failure};
use crate::owner::{self, Owner};
use crate::panic_hook;
use crate::status::vs_status;

/// Longest C string accepted (ids are limited to 1 KiB by the core anyway;
/// this bound only stops a scan of an unterminated buffer early).
const MAX_C_STRING: usize = 1 << 20;

/// Runs an export's body: no panic crosses into C; failures become a
/// status and, when `err` is not NULL, a `vs_error`.
pub(crate) fn guard(
    err: *mut *mut vs_error,
    body: impl FnOnce() -> Result<(), Failure>,
) -> vs_status {
    let outcome = {
        let _mark = panic_hook::enter_export();
        catch_unwind(AssertUnwindSafe(body))
    };
    match outcome {
        Ok(Ok(())) => vs_status::VS_OK,
        Ok(Err(failure)) => report(err, failure),
        Err(_) => report(err, caught_panic()),
    }
}

/// The failure for a panic caught at the boundary, with its message.
pub(crate) fn caught_panic() -> Failure {
    let detail = panic_hook::take_last_panic().unwrap_or_else(|| "no message".to_string());
    Failure::new(
        vs_status::VS_INTERNAL,
        format!("internal error (a panic was caught: {detail}); please report it"),
    )
}

/// Runs a free function's body: no panic crosses into C, none is printed.
pub(crate) fn quietly(body: impl FnOnce()) {
    let _mark = panic_hook::enter_export();
    let _ = catch_unwind(AssertUnwindSafe(body));
}

/// Takes the handle out of `*slot` (setting it to NULL) and hands it to
/// `release`; in a child of `fork()` a handle of the parent is only
/// forgotten (its destructor would touch the parent's runtime and keys).
pub(crate) fn free_handle<T>(
    slot: *mut *mut T,
    owner: impl FnOnce(&T) -> Owner,
    release: impl FnOnce(Box<T>),
) {
    quietly(|| {
        if slot.is_null() {
            return;
        }
        // SAFETY: `slot` points to NULL or to a pointer made by `put`.
        let raw = unsafe { std::mem::replace(&mut *slot, std::ptr::null_mut()) };
        if raw.is_null() {
            return;
        }
        // SAFETY: made by Box::into_raw in `put`, taken once (the slot is now NULL).
        let boxed = unsafe { Box::from_raw(raw) };
        if owner(&boxed).is_here() {
            release(boxed);
        } else {
            owner::keep_forever(boxed);
        }
    });
}

/// A required, NUL-terminated UTF-8 string argument.
pub(crate) fn text<'a>(name: &str, ptr: *const c_char) -> Result<&'a str, Failure> {
    optional_text(name, ptr)?.ok_or_else(|| Failure::invalid(format!("{name} is NULL")))
}

/// An optional string argument: NULL gives `None`.
pub(crate) fn optional_text<'a>(
    name: &str,
    ptr: *const c_char,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // Find the terminator without reading past MAX_C_STRING bytes.
    let mut len = 0usize;
    // SAFETY: the caller promises a NUL-terminated string; we stop at the
    // first NUL or at the bound, whichever comes first.
    while unsafe { *ptr.add(len) } != 0 {
        len += 1;
        if len > MAX_C_STRING {
            return Err(Failure::invalid(format!(
                "{name} is longer than {MAX_C_STRING} bytes"
            )));
        }
    }
    // SAFETY: `len` bytes before the NUL are readable (just scanned).
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes)
        .map(Some)
        .map_err(|e| Failure::invalid(format!("{name} is not valid UTF-8 ({e})")))
}

/// A required handle argument.
pub(crate) fn handle<'a, T>(name: &str, ptr: *const T) -> Result<&'a T, Failure> {
    // SAFETY: the caller passes NULL or a live handle of this library.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::invalid(format!("{name} is NULL")))
}

/// A required mutable handle argument.
pub(crate) fn handle_mut<'a, T>(name: &str, ptr: *mut T) -> Result<&'a mut T, Failure> {
    // SAFETY: as in `handle`; the API documents which calls need exclusive use.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::invalid(format!("{name} is NULL")))
}

/// Checks an output pointer before any work is done.
pub(crate) fn out_ptr<T>(name: &str, ptr: *mut *mut T) -> Result<(), Failure> {
    if ptr.is_null() {
        Err(Failure::invalid(format!("{name} is NULL")))
    } else {
        Ok(())
    }
}

/// Writes a new handle to a checked output pointer.
pub(crate) fn put<T>(out: *mut *mut T, value: T) {
    // SAFETY: `out` was checked non-NULL by `out_ptr`.
    unsafe { *out = Box::into_raw(Box::new(value)) };
}

/// Frees `*slot` (a handle boxed by `put`) and sets it to NULL.
pub(crate) fn free_box<T>(slot: *mut *mut T) {
    quietly(|| {
        if slot.is_null() {
            return;
        }
        // SAFETY: `slot` points to NULL or to a pointer made by `put`.
        let raw = unsafe { std::mem::replace(&mut *slot, std::ptr::null_mut()) };
        if !raw.is_null() {
            // SAFETY: made by Box::into_raw in `put`, freed once (the slot is now NULL).
            drop(unsafe { Box::from_raw(raw) });
        }
    });
}
