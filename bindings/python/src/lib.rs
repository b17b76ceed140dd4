//! The `vinesync._native` extension module: vinesync's core (locks and
//! leader election on etcd or in memory) for Python. The `vinesync` package
//! re-exports it; see `python/vinesync/__init__.py`.

// Python classes show themselves through `__repr__`, not `Debug`.
#![allow(missing_debug_implementations)]

mod args;
mod errors;
mod faults;
mod guard;
mod inspect;
mod leader;
mod process;
mod runtime;
mod streams;
mod sync;
mod values;

use std::time::Duration;

use pyo3::prelude::*;

/// How long interpreter exit waits for open handles to release their locks.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(2);

/// Closes every open `Sync` of this process (registered with `atexit` by
/// the package), so locks and candidacies end with the interpreter.
#[pyfunction]
fn _shutdown(py: Python<'_>) -> PyResult<()> {
    sync::shutdown(py, SHUTDOWN_LIMIT)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", vinesync::VERSION)?;
    m.add_class::<sync::Sync>()?;
    m.add_class::<guard::LockGuard>()?;
    m.add_class::<leader::Leader>()?;
    m.add_class::<values::Member>()?;
    m.add_class::<inspect::LockInfo>()?;
    m.add_class::<inspect::LockEntry>()?;
    m.add_class::<values::ElectEvent>()?;
    m.add_class::<values::ObserveResult>()?;
    m.add_class::<values::Options>()?;
    m.add_class::<streams::ElectWatcher>()?;
    m.add_class::<streams::Observer>()?;
    m.add_class::<streams::StatusStream>()?;
    m.add_class::<faults::Faults>()?;
    m.add_function(wrap_pyfunction!(_shutdown, m)?)?;
    Ok(())
}
