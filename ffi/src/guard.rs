//! The lock guard: a held lock with its fencing token, id, key and lease,
//! and its end, "released" or "lost". Thread-safe: one thread may wait for
//! the loss while another unlocks or frees the guard.

use std::ffi::{c_char, CString};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use tokio::sync::watch;
use vinesync::{ErrorKind, LockGuard};

use crate::cancel::{self, vs_cancel};
use crate::error::{vs_error, Failure};
use crate::handles::{free_handle, guard, handle};
use crate::owner::Owner;
use crate::runtime::{block_on, finish_in_background, timeout};
use crate::status::vs_status;

/// A held lock. Thread-safe: e.g. one thread in `vs_guard_wait_lost`,
/// another in `vs_guard_unlock` or `vs_guard_free`. Freeing it releases
/// the lock if it is still held.
pub struct vs_guard {
    owner: Owner,
    held: Mutex<Option<LockGuard>>,
    /// The lost signal (SPEC L6), started on first use: `true` once lost;
    /// closed without `true` once released.
    signal: OnceLock<watch::Receiver<bool>>,
    /// How the lock had ended when this guard released it (see [`End`]).
    end_at_release: AtomicU8,
    /// Waits in flight: `vs_guard_free` lets them return before freeing.
    waits: Mutex<usize>,
    waits_done: Condvar,
    token: u64,
    lease: i64,
    /// The id and key, shared with the core; their C strings are made on
    /// first use (most guards are never asked), and live as long as the
    /// guard.
    id: Arc<str>,
    key: Arc<str>,
    id_c: OnceLock<CString>,
    key_c: OnceLock<CString>,
}

fn c_string(text: &str) -> CString {
    // One copy; the NULs (which a lock id or key never has) are dropped
    // only when there are some.
    CString::new(text).unwrap_or_else(|_| CString::new(text.replace('\0', "")).unwrap_or_default())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn sync_closed() -> Failure {
    Failure::new(
        vs_status::VS_CLOSED,
        "the sync handle is closed (closing it released the lock)",
    )
}

fn released() -> Failure {
    Failure::new(vs_status::VS_NOT_LOCKED, "the lock was released (not lost)")
}

/// How a guard's lock ended, as the guard reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum End {
    /// Not ended: still held.
    Held = 0,
    /// Lost (SPEC L6): its lease expired or its key was deleted.
    Lost = 1,
    /// Its Sync was closed, which released it (SPEC H1).
    Closed = 2,
    /// Released by this guard or by `vs_unlock`.
    Released = 3,
}

impl End {
    fn from_u8(n: u8) -> End {
        match n {
            1 => End::Lost,
            2 => End::Closed,
            3 => End::Released,
            _ => End::Held,
        }
    }
}

impl vs_guard {
    pub(crate) fn new(held: LockGuard) -> Self {
        vs_guard {
            owner: Owner::here(),
            token: held.fencing_token(),
            lease: held.lease(),
            id: held.shared_id(),
            key: held.shared_key(),
            id_c: OnceLock::new(),
            key_c: OnceLock::new(),
            held: Mutex::new(Some(held)),
            signal: OnceLock::new(),
            end_at_release: AtomicU8::new(End::Held as u8),
            waits: Mutex::new(0),
            waits_done: Condvar::new(),
        }
    }

    /// How the lock has ended so far: recorded when this guard released
    /// it, read from the core while it holds it.
    fn end(&self) -> End {
        let recorded = || End::from_u8(self.end_at_release.load(Ordering::Acquire));
        if recorded() != End::Held {
            return recorded();
        }
        match lock(&self.held).as_ref() {
            Some(held) => self.end_while_held(held).unwrap_or(End::Held),
            // Released by another thread since the first load.
            None => recorded(),
        }
    }

    /// How a lock this guard still holds has ended, if it has. Closing
    /// the Sync ended it (its revoke also turns the lost signal): closed,
    /// not lost (SPEC H1), unless it was known lost before.
    fn end_while_held(&self, held: &LockGuard) -> Option<End> {
        if held.ended_by_close() {
            Some(End::Closed)
        } else if held.is_known_lost() || self.signal.get().is_some_and(|s| *s.borrow()) {
            Some(End::Lost)
        } else {
            None
        }
    }

    /// The lost signal; `None` if the guard was released before anyone
    /// asked for it.
    fn signal(&self) -> Option<watch::Receiver<bool>> {
        let held = lock(&self.held);
        if let Some(signal) = self.signal.get() {
            return Some(signal.clone());
        }
        let signal = held.as_ref()?.lost_signal();
        Some(self.signal.get_or_init(|| signal).clone())
    }

    /// Whether the lock was released: by this guard, by `vs_unlock` with
    /// its id, or by closing its Sync.
    fn is_released(&self) -> bool {
        match lock(&self.held).as_ref() {
            None => true,
            Some(held) => held.is_released() || held.is_handle_closed(),
        }
    }

    fn is_lost(&self) -> bool {
        // Started here, so a key deleted while held is seen (SPEC L6).
        let _ = self.signal();
        self.end() == End::Lost
    }

    /// Releases the lock if this guard still holds it: `None` if it was
    /// already released by the guard. How the lock had ended is recorded
    /// first: the guard's answers stay what they were.
    fn release(&self, cancel: Option<&vs_cancel>) -> Option<Result<(), Failure>> {
        let held = {
            let mut slot = lock(&self.held);
            let end = self.end_while_held(slot.as_ref()?).unwrap_or(End::Released);
            self.end_at_release.store(end as u8, Ordering::Release);
            slot.take()?
        };
        let outcome =
            finish_in_background(
                cancel,
                async move { held.unlock().await.map_err(Failure::from) },
            );
        if matches!(&outcome, Err(f) if f.status == vs_status::from(ErrorKind::Lost)) {
            self.end_at_release
                .store(End::Lost as u8, Ordering::Release);
        }
        Some(outcome)
    }

    fn wait_started(&self) -> WaitInFlight<'_> {
        *lock(&self.waits) += 1;
        WaitInFlight(self)
    }

    fn wait_for_waits(&self) {
        let mut waits = lock(&self.waits);
        while *waits > 0 {
            waits = self
                .waits_done
                .wait(waits)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

struct WaitInFlight<'a>(&'a vs_guard);

impl Drop for WaitInFlight<'_> {
    fn drop(&mut self) {
        *lock(&self.0.waits) -= 1;
        self.0.waits_done.notify_all();
    }
}

/// A required guard, usable in this process (`VS_CLOSED` after fork).
fn guard_handle<'a>(g: *const vs_guard) -> Result<&'a vs_guard, Failure> {
    let g = handle("guard", g)?;
    g.owner.check("vs_guard")?;
    Ok(g)
}

/// The guard's fencing token (SPEC L5); 0 for NULL.
///
/// # Safety
/// `g` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_fencing_token(g: *const vs_guard) -> u64 {
    // SAFETY: per the contract.
    unsafe { g.as_ref() }.map_or(0, |g| g.token)
}

/// The lock id as given to `vs_lock` (owned by the guard); `""` for NULL.
///
/// # Safety
/// `g` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_id(g: *const vs_guard) -> *const c_char {
    // SAFETY: per the contract.
    unsafe { g.as_ref() }.map_or(c"".as_ptr(), |g| {
        g.id_c.get_or_init(|| c_string(&g.id)).as_ptr()
    })
}

/// The key this acquisition wrote (owned by the guard); `""` for NULL.
///
/// # Safety
/// `g` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_key(g: *const vs_guard) -> *const c_char {
    // SAFETY: per the contract.
    unsafe { g.as_ref() }.map_or(c"".as_ptr(), |g| {
        g.key_c.get_or_init(|| c_string(&g.key)).as_ptr()
    })
}

/// The lease the lock's key is attached to; 0 for NULL.
///
/// # Safety
/// `g` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_lease(g: *const vs_guard) -> i64 {
    // SAFETY: per the contract.
    unsafe { g.as_ref() }.map_or(0, |g| g.lease)
}

/// Whether the lock is known lost (lease expired or key deleted by someone
/// else: SPEC L6). False for a guard released normally (by
/// `vs_guard_unlock` or `vs_unlock`) and once its Sync is closed, unless
/// the lock was known lost when the close began (its lease lost, or its
/// key's deletion seen: a guard's loss is watched from its first
/// `vs_guard_is_lost` or `vs_guard_wait_lost` on); true for NULL and in a
/// child of `fork()`. The answer does not change when the guard is
/// unlocked.
///
/// # Safety
/// `g` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_is_lost(g: *const vs_guard) -> bool {
    yes_unless_asked(g, vs_guard::is_lost)
}

/// `ask` of guard `g`; true for NULL, a guard of the parent in a child of
/// `fork()` and a caught panic (a guard that cannot be asked is not held).
fn yes_unless_asked(g: *const vs_guard, ask: impl FnOnce(&vs_guard) -> bool) -> bool {
    let mut answer = true;
    crate::handles::quietly(|| {
        if let Ok(g) = guard_handle(g) {
            answer = ask(g);
        }
    });
    answer
}

/// Whether the guard's lock was released: by `vs_guard_unlock`, by
/// `vs_unlock` with its id, or by closing its Sync. A lost lock is not
/// released until one of those runs. Freeing a released guard releases
/// nothing. True for NULL and in a child of `fork()`.
///
/// # Safety
/// `g` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_is_released(g: *const vs_guard) -> bool {
    yes_unless_asked(g, vs_guard::is_released)
}

/// Blocks until the lock ends: `VS_OK` when it is lost (SPEC L6),
/// `VS_NOT_LOCKED` when it is released (by `vs_guard_unlock`, `vs_unlock`
/// or `vs_guard_free` from another thread), `VS_CLOSED` when its Sync was
/// closed (a lock known lost before, as `vs_guard_is_lost` says, still
/// gives `VS_OK`), `VS_TIMED_OUT` after
/// `timeout_ms` (0 = no limit), `VS_CANCELLED` when `cancel` fires.
///
/// # Safety
/// `g` live (another thread may free it meanwhile: this call returns
/// first); `cancel` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_wait_lost(
    g: *const vs_guard,
    timeout_ms: u64,
    cancel: *const vs_cancel,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let g = guard_handle(g)?;
        let _in_flight = g.wait_started();
        let ended = |end: End| match end {
            End::Lost => Some(Ok(())),
            End::Closed => Some(Err(sync_closed())),
            End::Released => Some(Err(released())),
            End::Held => None,
        };
        let Some(mut signal) = g.signal() else {
            return ended(g.end()).unwrap_or_else(|| Err(released()));
        };
        if let Some(result) = ended(g.end()) {
            return result;
        }
        block_on(cancel::optional(cancel), timeout(timeout_ms), async move {
            // Turns true when lost or closed; ends without it when released.
            let _ = signal.wait_for(|lost| *lost).await;
            ended(g.end()).unwrap_or_else(|| Err(released()))
        })
    })
}

/// Releases the lock now. `VS_NOT_LOCKED` if already released (by this
/// call or `vs_unlock`); `VS_LOST` if it had been lost; `VS_CLOSED` if its
/// Sync was closed (which released it). A fired `cancel`
/// returns `VS_CANCELLED` at once; the release completes in the
/// background. Free the guard after.
///
/// # Safety
/// `g` live; `cancel` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_unlock(
    g: *mut vs_guard,
    cancel: *const vs_cancel,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let g = guard_handle(g)?;
        g.release(cancel::optional(cancel)).unwrap_or_else(|| {
            Err(Failure::new(
                vs_status::VS_NOT_LOCKED,
                "the guard was already released",
            ))
        })
    })
}

/// Frees `*g` and sets it to NULL. A lock still held is released before
/// this returns (bounded by the request timeout), so another handle can
/// take it at once. A `vs_guard_wait_lost` blocked in another thread
/// returns `VS_NOT_LOCKED` first. Safe at process exit; in a child of
/// `fork()` a guard of the parent is only forgotten.
///
/// # Safety
/// `g` NULL or points to NULL or to a guard from `vs_lock`/`vs_try_lock`;
/// no call other than `vs_guard_wait_lost` may be using it.
#[no_mangle]
pub unsafe extern "C" fn vs_guard_free(g: *mut *mut vs_guard) {
    free_handle(
        g,
        |g| g.owner,
        |g| {
            let _ = g.release(None);
            g.wait_for_waits();
            // Released above: what is left (strings, the lost signal's
            // receiver) needs no runtime to drop, unlike a held lock.
            debug_assert!(lock(&g.held).is_none());
            drop(g);
        },
    );
}
