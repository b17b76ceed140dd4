//! Which process a handle belongs to. After `fork()` the child inherits
//! copies of the parent's handles, whose keys, leases and runtime threads
//! belong to the parent: in the child every such handle reports
//! `VS_CLOSED` and touches nothing, and freeing it only forgets it.

use std::sync::atomic::{AtomicPtr, Ordering};

use crate::error::Failure;
use crate::status::vs_status;

/// The calling process (cached, and forgotten in the child of a `fork()`).
pub(crate) fn current_pid() -> u32 {
    vinesync::host::process_id()
}

/// The process a handle was made in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner {
    pid: u32,
}

impl Owner {
    /// Stamps a new handle with the calling process.
    pub fn here() -> Self {
        Owner { pid: current_pid() }
    }

    /// Whether the calling process is the one that made the handle.
    pub fn is_here(self) -> bool {
        self.pid == current_pid()
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
                    self.pid
                ),
            ))
        }
    }
}

/// Keeps a handle of the parent, forgotten in a child of `fork()`, on a
/// list reachable from a static: it is never freed (its destructor would
/// touch the parent's runtime and keys), and leak checkers such as valgrind
/// see it as reachable rather than lost.
pub(crate) fn keep_forever<T>(value: Box<T>) {
    push(Box::into_raw(value).cast());
}

struct Kept {
    /// Never read: only keeps the value reachable.
    #[allow(dead_code)]
    value: *mut (),
    next: *mut Kept,
}

static KEPT: AtomicPtr<Kept> = AtomicPtr::new(std::ptr::null_mut());

fn push(value: *mut ()) {
    let node = Box::into_raw(Box::new(Kept {
        value,
        next: std::ptr::null_mut(),
    }));
    let mut head = KEPT.load(Ordering::Acquire);
    loop {
        // SAFETY: `node` is ours until the exchange below publishes it.
        unsafe { (*node).next = head };
        match KEPT.compare_exchange(head, node, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(current) => head = current,
        }
    }
}

/// A value made once per process: the first use in a child of `fork()`
/// makes a fresh one. Values are never dropped (the one inherited through
/// `fork()` may refer to threads or locks that do not exist in the child);
/// a replaced one is kept reachable with `keep_forever`.
pub(crate) struct PerProcess<T> {
    slot: AtomicPtr<(u32, T)>,
}

impl<T> PerProcess<T> {
    pub const fn new() -> Self {
        PerProcess {
            slot: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    pub fn get_or_try_init(
        &'static self,
        make: impl Fn() -> Result<T, Failure>,
    ) -> Result<&'static T, Failure> {
        let pid = current_pid();
        loop {
            let current = self.slot.load(Ordering::Acquire);
            // SAFETY: the slot holds NULL or a leaked, never-freed box.
            if let Some((owner, value)) = unsafe { current.as_ref() } {
                if *owner == pid {
                    return Ok(value);
                }
            }
            let fresh = Box::into_raw(Box::new((pid, make()?)));
            match self
                .slot
                .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(replaced) => {
                    if !replaced.is_null() {
                        push(replaced.cast());
                    }
                    // SAFETY: leaked just above, never freed.
                    return Ok(unsafe { &(*fresh).1 });
                }
                // Another thread was first: drop ours (never shared), use theirs.
                // SAFETY: `fresh` came from Box::into_raw above.
                Err(_) => drop(unsafe { Box::from_raw(fresh) }),
            }
        }
    }
}
