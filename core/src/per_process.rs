//! Values made once per process. After `fork()` the child inherits copies
//! of the parent's process-wide values (a runtime, the memory store, a
//! registry) that may refer to threads which do not exist in the child, or
//! to mutexes one of those threads held at the fork: the child must make
//! its own. Inherited values are never dropped (their destructors would
//! touch the parent's threads); they stay reachable from a static, so leak
//! checkers such as valgrind see them as reachable rather than lost.

use std::marker::PhantomData;
#[cfg(unix)]
use std::sync::atomic::AtomicU32;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

/// The pid, cached (0 = not cached yet).
#[cfg(unix)]
static PID: AtomicU32 = AtomicU32::new(0);
/// How many `fork()`s, since the fork handler was registered, lie between
/// the process that registered it and this one.
static FORKS: AtomicU64 = AtomicU64::new(0);
/// The fork handler's registration: [`UNREGISTERED`], [`REGISTERED`], or
/// the pid of the process registering it (a child of a `fork()` made while
/// another thread of its parent was registering sees that pid, not its own).
#[cfg(unix)]
static HANDLER: AtomicU64 = AtomicU64::new(UNREGISTERED);
#[cfg(unix)]
const UNREGISTERED: u64 = 0;
/// Above every pid.
#[cfg(unix)]
const REGISTERED: u64 = u64::MAX;

/// Runs in the child of every `fork()`: only atomic stores and adds, which
/// are async-signal-safe, as a fork handler must be.
#[cfg(unix)]
extern "C" fn forget_in_child() {
    PID.store(0, Ordering::SeqCst);
    FORKS.fetch_add(1, Ordering::SeqCst);
}

/// Registers [`forget_in_child`] once per process tree.
#[cfg(unix)]
fn ensure_fork_handler() {
    let state = HANDLER.load(Ordering::SeqCst);
    if state == REGISTERED {
        return;
    }
    let pid = u64::from(std::process::id());
    // Registering in a parent whose registering thread is not in this
    // child: start again here. (If the parent did register before the
    // fork, the handler is inherited and now registered twice: each fork
    // is then counted twice, which changes no comparison.)
    let from = if state != UNREGISTERED && state != pid {
        state
    } else {
        UNREGISTERED
    };
    if HANDLER
        .compare_exchange(from, pid, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        // SAFETY: registers a plain `extern "C" fn()`.
        let registered = unsafe { libc::pthread_atfork(None, None, Some(forget_in_child)) };
        let done = if registered == 0 {
            REGISTERED
        } else {
            UNREGISTERED
        };
        HANDLER.store(done, Ordering::SeqCst);
    }
}

/// The calling process's id, as `std::process::id()` returns it, without a
/// system call each time (glibc no longer caches `getpid`, and the C and
/// Python layers ask on every call whether a handle was made before a
/// `fork()`). Cached once a `pthread_atfork` handler is registered that
/// forgets the cache in the child of every `fork()`.
#[cfg(unix)]
pub fn process_id() -> u32 {
    let cached = PID.load(Ordering::SeqCst);
    if cached != 0 {
        return cached;
    }
    ensure_fork_handler();
    let pid = std::process::id();
    // Only cache behind the handler: without it a child would keep the
    // parent's pid.
    if HANDLER.load(Ordering::SeqCst) == REGISTERED {
        PID.store(pid, Ordering::SeqCst);
    }
    pid
}

/// The calling process's id (no `fork()` here).
#[cfg(not(unix))]
pub fn process_id() -> u32 {
    std::process::id()
}

/// Which process this is: its pid and the number of forks that led to it.
/// Both, because either alone can mistake a child for its parent: a child
/// can get its parent's pid (a fork into a new PID namespace, pid reuse
/// after a double fork), and without the fork handler the count stays 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessStamp {
    pid: u32,
    forks: u64,
}

impl ProcessStamp {
    /// The calling process (registers the fork handler first).
    pub fn here() -> ProcessStamp {
        let pid = process_id();
        ProcessStamp {
            pid,
            forks: FORKS.load(Ordering::SeqCst),
        }
    }

    /// The process id, for messages.
    pub fn pid(self) -> u32 {
        self.pid
    }

    /// Both parts in one integer (the fork count's low 32 bits), for an
    /// atomic (never 0, which can stand for "no process").
    pub fn packed(self) -> u64 {
        (u64::from(self.pid) << 32) | (self.forks & 0xffff_ffff)
    }
}

/// A value made once per process: the first use in a child of `fork()`
/// makes a fresh one. A process's value is never dropped (nor is the one
/// a child inherited); `make` may run in several threads at once, and the
/// values that lose that race are dropped before anyone sees them.
pub struct PerProcess<T> {
    slot: AtomicPtr<(ProcessStamp, T)>,
    /// Shared between threads only when `T` is (the atomic pointer alone
    /// would be `Sync` for any `T`).
    _value: PhantomData<T>,
}

impl<T> std::fmt::Debug for PerProcess<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerProcess").finish_non_exhaustive()
    }
}

impl<T> Default for PerProcess<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> PerProcess<T> {
    pub const fn new() -> Self {
        PerProcess {
            slot: AtomicPtr::new(std::ptr::null_mut()),
            _value: PhantomData,
        }
    }

    /// This process's value, made by `make` on first use in the process.
    pub fn get_or_init(&'static self, make: impl Fn() -> T) -> &'static T {
        match self.get_or_try_init(|| Ok::<T, std::convert::Infallible>(make())) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// This process's value, made by `make` on first use in the process; a
    /// failed `make` is tried again on the next use.
    pub fn get_or_try_init<E>(
        &'static self,
        make: impl Fn() -> Result<T, E>,
    ) -> Result<&'static T, E> {
        let here = ProcessStamp::here();
        loop {
            let current = self.slot.load(Ordering::Acquire);
            // SAFETY: the slot holds NULL or a leaked, never-freed box.
            if let Some((owner, value)) = unsafe { current.as_ref() } {
                if *owner == here {
                    return Ok(value);
                }
            }
            let fresh = Box::into_raw(Box::new((here, make()?)));
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

/// Keeps a value of the parent, forgotten in a child of `fork()`, on a
/// list reachable from a static: it is never freed.
pub fn keep_forever<T>(value: Box<T>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A child forked while another thread of its parent registered the
    /// fork handler inherits "being registered by the parent's pid": the
    /// child registers it itself rather than never (its stamps would then
    /// never count forks).
    /// (In a child of its own, so the test process's registration, which
    /// other tests use meanwhile, is not touched.)
    #[cfg(unix)]
    #[test]
    fn a_registration_cut_off_by_a_fork_is_done_again() {
        // SAFETY: the child only touches atomics, registers the handler
        // and _exits.
        let child = unsafe { libc::fork() };
        if child == 0 {
            let parent = u64::from(std::process::id()).wrapping_add(1);
            HANDLER.store(parent, Ordering::SeqCst);
            ensure_fork_handler();
            let redone = HANDLER.load(Ordering::SeqCst) == REGISTERED;
            // Once registered, nothing changes.
            ensure_fork_handler();
            let kept = HANDLER.load(Ordering::SeqCst) == REGISTERED;
            // SAFETY: ends the child without running the parent's atexit.
            unsafe { libc::_exit(if redone && kept { 0 } else { 1 }) };
        }
        assert!(child > 0, "fork failed");
        let mut status = 0;
        // SAFETY: waits for our own child.
        let waited = unsafe { libc::waitpid(child, &mut status, 0) };
        assert_eq!(waited, child);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the child did not register the handler again (status {status:#x})"
        );
    }

    #[test]
    fn one_value_per_process_and_a_failed_make_is_retried() {
        static VALUE: PerProcess<u32> = PerProcess::new();
        assert_eq!(VALUE.get_or_try_init(|| Err::<u32, &str>("no")), Err("no"));
        assert_eq!(*VALUE.get_or_init(|| 7), 7);
        assert_eq!(*VALUE.get_or_init(|| 8), 7); // made once
        assert!(std::ptr::eq(
            VALUE.get_or_init(|| 9),
            VALUE.get_or_init(|| 9)
        ));
    }
}
