//! vinesync errors as Python exceptions: one class per SPEC §6 kind, all
//! under `vinesync.Error` (defined in `vinesync/_errors.py`).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use vinesync::ErrorKind;

/// The Python class name of each kind.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidArgument => "InvalidArgument",
        ErrorKind::LockTimeout => "LockTimeout",
        ErrorKind::WouldBlock => "WouldBlock",
        ErrorKind::NotLocked => "NotLocked",
        ErrorKind::NoLeader => "NoLeader",
        ErrorKind::Cancelled => "Cancelled",
        ErrorKind::Unavailable => "Unavailable",
        ErrorKind::Lost => "Lost",
        ErrorKind::Closed => "Closed",
        ErrorKind::Unauthenticated => "Unauthenticated",
        ErrorKind::PermissionDenied => "PermissionDenied",
        _ => "Internal",
    }
}

/// The exception for `error`.
pub fn to_py(py: Python<'_>, error: &vinesync::Error) -> PyErr {
    let message = error.message().to_string();
    let raised = py
        .import("vinesync._errors")
        .and_then(|module| module.getattr(class_name(error.kind())))
        .and_then(|class| class.call1((message.clone(),)));
    match raised {
        Ok(exception) => PyErr::from_value(exception),
        // Only if the package is broken: still say what happened.
        Err(_) => PyRuntimeError::new_err(format!("vinesync ({}): {message}", error.kind())),
    }
}

/// An `InvalidArgument` error naming `what`.
pub fn invalid(what: impl Into<String>) -> vinesync::Error {
    vinesync::Error::new(ErrorKind::InvalidArgument, what)
}
