//! Handle options (vine's `Prefix`, `Nodes`, plus timeouts, TLS, auth).

use std::ffi::c_char;
use std::path::PathBuf;
use std::time::Duration;

use vinesync::{Options, TlsOptions};

use crate::error::vs_error;
use crate::handles::{free_box, guard, handle_mut, optional_text, out_ptr, put, text};
use crate::status::vs_status;

/// Options for a new handle, vine's defaults until set. Not thread-safe:
/// build it on one thread, then pass it (read-only) to `vs_sync_new_*`.
pub struct vs_options {
    pub(crate) options: Options,
}

/// New options with vine's defaults (prefix `/vine/sync`, node `127.0.0.1:2379`).
///
/// # Safety
/// `out` points to writable storage for one pointer; `err` is NULL or so.
#[no_mangle]
pub unsafe extern "C" fn vs_options_new(
    out: *mut *mut vs_options,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        put(
            out,
            vs_options {
                options: Options::new(),
            },
        );
        Ok(())
    })
}

/// vine's `Prefix`: every key goes under it.
///
/// # Safety
/// `options` is a live `vs_options`; `prefix` NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn vs_options_set_prefix(
    options: *mut vs_options,
    prefix: *const c_char,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let o = handle_mut("options", options)?;
        o.options.set_prefix(text("prefix", prefix)?);
        Ok(())
    })
}

/// vine's `Nodes`, comma-separated (`"10.0.0.1:2379,10.0.0.2:2379"`).
///
/// # Safety
/// As `vs_options_set_prefix`.
#[no_mangle]
pub unsafe extern "C" fn vs_options_set_nodes(
    options: *mut vs_options,
    nodes: *const c_char,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let o = handle_mut("options", options)?;
        o.options.nodes = text("nodes", nodes)?
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from)
            .collect();
        Ok(())
    })
}

/// The key layout: `"vinesync"` (the default) or `"vine"` (vine 1.5's
/// keys, for a fleet that still runs vine processes; the prefix is then
/// vine's `Prefix`: empty, vine's default, unless one was set with
/// `vs_options_set_prefix`, before or after this call). Any other value
/// is `VS_INVALID_ARGUMENT` naming it. `VINESYNC_LAYOUT` sets it for
/// `vs_sync_new_from_env`.
///
/// # Safety
/// `options` is a live `vs_options`; `layout` a C string.
#[no_mangle]
pub unsafe extern "C" fn vs_options_set_layout(
    options: *mut vs_options,
    layout: *const c_char,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let o = handle_mut("options", options)?;
        o.options.set_layout(text("layout", layout)?.parse()?);
        Ok(())
    })
}

/// Connection and request timeouts in milliseconds (0 keeps the current value).
///
/// # Safety
/// `options` is a live `vs_options`.
#[no_mangle]
pub unsafe extern "C" fn vs_options_set_timeouts(
    options: *mut vs_options,
    dial_ms: u64,
    request_ms: u64,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let o = handle_mut("options", options)?;
        if dial_ms > 0 {
            o.options.dial_timeout = Duration::from_millis(dial_ms);
        }
        if request_ms > 0 {
            o.options.request_timeout = Duration::from_millis(request_ms);
        }
        Ok(())
    })
}

/// TLS: CA file, client certificate and key (mutual TLS), server name;
/// each may be NULL.
///
/// # Safety
/// `options` is a live `vs_options`; the strings NULL or C strings.
#[no_mangle]
pub unsafe extern "C" fn vs_options_set_tls(
    options: *mut vs_options,
    ca_file: *const c_char,
    cert_file: *const c_char,
    key_file: *const c_char,
    server_name: *const c_char,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let o = handle_mut("options", options)?;
        let mut tls = TlsOptions::new();
        tls.ca_file = optional_text("ca_file", ca_file)?.map(PathBuf::from);
        tls.cert_file = optional_text("cert_file", cert_file)?.map(PathBuf::from);
        tls.key_file = optional_text("key_file", key_file)?.map(PathBuf::from);
        tls.server_name = optional_text("server_name", server_name)?.map(String::from);
        o.options.tls = Some(tls);
        Ok(())
    })
}

/// etcd user and password (the password is never shown in errors).
///
/// # Safety
/// `options` is a live `vs_options`; the strings C strings.
#[no_mangle]
pub unsafe extern "C" fn vs_options_set_credentials(
    options: *mut vs_options,
    user: *const c_char,
    password: *const c_char,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let o = handle_mut("options", options)?;
        let (user, password) = (text("user", user)?, text("password", password)?);
        o.options = o.options.clone().credentials(user, password);
        Ok(())
    })
}

/// Copies `text` into `buf` (`len` bytes, NUL-terminated, truncated if
/// short) and returns its full length, as `snprintf` does.
fn copy_out(text: &str, buf: *mut c_char, len: usize) -> usize {
    if !buf.is_null() && len > 0 {
        let n = text.len().min(len - 1);
        // SAFETY: the caller gives `len` writable bytes at `buf`.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr().cast::<c_char>(), buf, n);
            *buf.add(n) = 0;
        }
    }
    text.len()
}

/// The prefix, copied into `buf` (`len` bytes, NUL-terminated, truncated
/// if short; `buf` may be NULL with `len` 0). Returns the prefix's length,
/// as `snprintf` does; 0 for NULL options.
///
/// # Safety
/// `options` NULL or live; `buf` NULL or `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn vs_options_get_prefix(
    options: *const vs_options,
    buf: *mut c_char,
    len: usize,
) -> usize {
    // SAFETY: per the contract.
    unsafe { options.as_ref() }.map_or(0, |o| copy_out(&o.options.prefix, buf, len))
}

/// The nodes, comma-separated, copied as by `vs_options_get_prefix`.
///
/// # Safety
/// As `vs_options_get_prefix`.
#[no_mangle]
pub unsafe extern "C" fn vs_options_get_nodes(
    options: *const vs_options,
    buf: *mut c_char,
    len: usize,
) -> usize {
    // SAFETY: per the contract.
    unsafe { options.as_ref() }.map_or(0, |o| copy_out(&o.options.nodes.join(","), buf, len))
}

/// The dial and request timeouts in milliseconds. Outputs are written
/// only on `VS_OK`.
///
/// # Safety
/// `options` live; `dial_ms`, `request_ms` writable.
#[no_mangle]
pub unsafe extern "C" fn vs_options_get_timeouts(
    options: *const vs_options,
    dial_ms: *mut u64,
    request_ms: *mut u64,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let o = crate::handles::handle("options", options)?;
        if dial_ms.is_null() || request_ms.is_null() {
            let name = if dial_ms.is_null() {
                "dial_ms"
            } else {
                "request_ms"
            };
            return Err(crate::error::Failure::invalid(format!("{name} is NULL")));
        }
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        // SAFETY: both checked non-NULL above.
        unsafe {
            *dial_ms = millis(o.options.dial_timeout);
            *request_ms = millis(o.options.request_timeout);
        }
        Ok(())
    })
}

/// Frees `*options` and sets it to NULL.
///
/// # Safety
/// `options` is NULL or points to NULL or to options from `vs_options_new`.
#[no_mangle]
pub unsafe extern "C" fn vs_options_free(options: *mut *mut vs_options) {
    free_box(options);
}
