//! Objects remember the process that made them: after `os.fork()` the
//! child has none of the parent's runtime threads, connections or leases,
//! so using a parent's object there raises a clear error instead of hanging.

use pyo3::prelude::*;
use vinesync::per_process::ProcessStamp;
use vinesync::{Error, ErrorKind};

use crate::errors::to_py;

/// The process an object was made in: its pid and fork count, so a child
/// that got its parent's pid (a new PID namespace) is still told apart.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    stamp: ProcessStamp,
}

impl Origin {
    /// The current process.
    pub fn here() -> Self {
        Origin {
            stamp: ProcessStamp::here(),
        }
    }

    /// Whether this is still the process the object was made in.
    pub fn is_here(self) -> bool {
        // Cached, and forgotten in the child of a fork (no getpid call per
        // check).
        self.stamp == ProcessStamp::here()
    }

    /// `Closed` (naming `what` and the fork) when called in a forked child.
    pub fn check(self, py: Python<'_>, what: &str) -> PyResult<()> {
        if self.is_here() {
            return Ok(());
        }
        Err(to_py(
            py,
            &Error::new(
                ErrorKind::Closed,
                format!(
                    "this {what} was made in process {} and cannot be used after os.fork(); \
                     make a new vinesync.Sync in the child (pid {})",
                    self.stamp.pid(),
                    std::process::id()
                ),
            ),
        ))
    }
}
