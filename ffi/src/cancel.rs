//! Cancel tokens: fired from any thread, seen by every blocking call that
//! was given the token.

use tokio::sync::watch;

use crate::handles::{free_box, put};

/// A cancel token. Thread-safe: fire it from any thread while another
/// thread waits in a call that was given it. Once fired, it stays fired.
pub struct vs_cancel {
    fired: watch::Sender<bool>,
}

impl vs_cancel {
    pub(crate) fn is_fired(&self) -> bool {
        *self.fired.borrow()
    }

    pub(crate) async fn fired(&self) {
        let mut rx = self.fired.subscribe();
        let _ = rx.wait_for(|fired| *fired).await;
    }
}

/// A cancel argument as a C caller gives it: NULL = no cancel token.
pub(crate) fn optional<'a>(cancel: *const vs_cancel) -> Option<&'a vs_cancel> {
    // SAFETY: every export's contract: `cancel` is NULL or a live token.
    unsafe { cancel.as_ref() }
}

/// A new, unfired cancel token; free with `vs_cancel_free`. NULL only if
/// out of memory.
#[no_mangle]
pub extern "C" fn vs_cancel_new() -> *mut vs_cancel {
    let mut out = std::ptr::null_mut();
    put(
        &mut out,
        vs_cancel {
            fired: watch::channel(false).0,
        },
    );
    out
}

/// Fires the token: blocking calls given it return `VS_CANCELLED` promptly,
/// and later calls given it return `VS_CANCELLED` at once. NULL is ignored.
///
/// # Safety
/// `token` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn vs_cancel_fire(token: *const vs_cancel) {
    // SAFETY: per the contract.
    if let Some(token) = unsafe { token.as_ref() } {
        token.fired.send_replace(true);
    }
}

/// Frees `*token` and sets it to NULL. No call may still be using it.
///
/// # Safety
/// `token` is NULL or points to NULL or to a token from `vs_cancel_new`.
#[no_mangle]
pub unsafe extern "C" fn vs_cancel_free(token: *mut *mut vs_cancel) {
    free_box(token);
}
