//! Which process a handle belongs to. After `fork()` the child inherits
//! copies of the parent's handles, whose keys, leases and runtime threads
//! belong to the parent: in the child every such handle reports
//! `VS_CLOSED` and touches nothing, and freeing it only forgets it.

use vinesync::per_process::ProcessStamp;

use crate::error::Failure;
use crate::status::vs_status;

/// The process a handle was made in: its pid and fork count, so a child
/// that got its parent's pid (a new PID namespace) is still told apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner {
    stamp: ProcessStamp,
}

impl Owner {
    /// Stamps a new handle with the calling process.
    pub fn here() -> Self {
        Owner {
            stamp: ProcessStamp::here(),
        }
    }

    /// Whether the calling process is the one that made the handle.
    pub fn is_here(self) -> bool {
        self.stamp == ProcessStamp::here()
    }

    /// `VS_CLOSED` in a child of `fork()`, naming the handle.
    pub fn check(self, what: &str) -> Result<(), Failure> {
        if self.is_here() {
            Ok(())
        } else {
            Err(Failure::new(
                vs_status::VS_CLOSED,
                format!(
                    "the {what} was made by process {} before fork(); it is closed in this child process (make a new vs_sync here)",
                    self.stamp.pid()
                ),
            ))
        }
    }
}

/// Keeps a handle of the parent, forgotten in a child of `fork()`: it is
/// never freed (its destructor would touch the parent's runtime and keys).
pub(crate) use vinesync::per_process::{keep_forever, PerProcess};
