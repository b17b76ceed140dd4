//! Owned error objects: a status and a message, freed by the caller.

use std::ffi::{c_char, CString};

use crate::status::vs_status;

/// An error: its status and a message naming what was wrong.
/// Owned by the caller; free with `vs_error_free`. Immutable, so it may be
/// read from any thread.
pub struct vs_error {
    pub(crate) status: vs_status,
    pub(crate) message: CString,
}

/// What the internals return before it becomes a status + `vs_error`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: vs_status,
    pub message: String,
}

impl Failure {
    pub fn new(status: vs_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Failure::new(vs_status::VS_INVALID_ARGUMENT, message)
    }
}

impl From<vinesync::Error> for Failure {
    fn from(error: vinesync::Error) -> Self {
        Failure::new(error.kind().into(), error.message())
    }
}

/// Writes `failure` to `*err` and returns its status. Nothing is written
/// when `err` is NULL, nor when `*err` still holds an earlier error: that
/// one is kept (never overwritten, so never leaked); the status still
/// reports this call's outcome.
pub(crate) fn report(err: *mut *mut vs_error, failure: Failure) -> vs_status {
    // SAFETY: `err` is NULL or, by the API contract, points to readable and
    // writable storage for one pointer.
    if !err.is_null() && unsafe { (*err).is_null() } {
        let message = CString::new(failure.message.replace('\0', "\\0")).unwrap_or_default();
        let boxed = Box::new(vs_error {
            status: failure.status,
            message,
        });
        // SAFETY: `err` is non-NULL and, by the API contract, points to
        // writable storage for one pointer.
        unsafe { *err = Box::into_raw(boxed) };
    }
    failure.status
}

/// The error's status.
///
/// # Safety
/// `error` is NULL or a live `vs_error`.
#[no_mangle]
pub unsafe extern "C" fn vs_error_status(error: *const vs_error) -> vs_status {
    // SAFETY: per the contract above.
    match unsafe { error.as_ref() } {
        Some(e) => e.status,
        None => vs_status::VS_INVALID_ARGUMENT,
    }
}

/// The error's message, owned by the error (valid until `vs_error_free`).
/// An empty string for NULL.
///
/// # Safety
/// `error` is NULL or a live `vs_error`.
#[no_mangle]
pub unsafe extern "C" fn vs_error_message(error: *const vs_error) -> *const c_char {
    // SAFETY: per the contract above.
    match unsafe { error.as_ref() } {
        Some(e) => e.message.as_ptr(),
        None => c"".as_ptr(),
    }
}

/// Frees `*error` and sets `*error` to NULL, so a second call is harmless.
/// `error` and `*error` may be NULL.
///
/// # Safety
/// `error` is NULL or points to NULL or to a `vs_error` from this library.
#[no_mangle]
pub unsafe extern "C" fn vs_error_free(error: *mut *mut vs_error) {
    crate::handles::free_box(error);
}
