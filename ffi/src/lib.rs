//! The C ABI of vinesync (`libvinesync`, header `include/vinesync.h`).
//!
//! Conventions (see the README, "C API conventions"):
//! - opaque handles, created by `vs_*_new` and freed by `vs_*_free(&ptr)`,
//!   which sets the pointer to NULL and accepts NULL;
//! - every fallible function returns a `vs_status` and writes its outputs
//!   only on `VS_OK`; details come in an optional owned `vs_error`;
//! - no panic crosses into C (nor onto stderr); bad pointers and strings
//!   are refused;
//! - one internal runtime per process; every network call takes an
//!   optional cancel token;
//! - safe at process exit and in a child of `fork()` (see `runtime`,
//!   `owner`, `live`).

#![allow(
    non_camel_case_types,
    missing_debug_implementations,
    clippy::missing_safety_doc
)]

mod cancel;
mod election;
mod error;
#[cfg(feature = "test-util")]
mod faults;
mod guard;
mod handles;
mod inspect;
mod live;
mod lock;
mod options;
mod owner;
mod panic_hook;
mod runtime;
mod status;
mod sync;

pub use cancel::*;
pub use election::*;
pub use error::*;
#[cfg(feature = "test-util")]
pub use faults::*;
pub use guard::*;
pub use inspect::*;
pub use lock::*;
pub use options::*;
pub use status::*;
pub use sync::*;

/// The library version, e.g. "0.1.0" (static string).
#[no_mangle]
pub extern "C" fn vs_version() -> *const std::ffi::c_char {
    static VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };
    VERSION.as_ptr()
}
