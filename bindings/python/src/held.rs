//! `Held`: one acquisition as the Python side sees it, shared by its
//! `LockGuard` and (weakly) by its `Sync`, so a release through either —
//! `guard.unlock()`, `with`, or `Sync.unlock(id)` — leaves one consistent
//! state: held, released or lost.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::watch;
use vinesync::{Error, ErrorKind};

use crate::process::Origin;

/// The state a guard reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Held,
    Released,
    /// Lost while held (lease expired or key deleted), released or not.
    Lost,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Held => "held",
            State::Released => "released",
            State::Lost => "lost",
        }
    }
}

pub struct Held {
    pub id: String,
    pub key: String,
    pub fencing_token: u64,
    pub lease: i64,
    origin: Origin,
    guard: Mutex<Option<vinesync::LockGuard>>,
    /// The lost signal, subscribed on first use while held: watching the
    /// key costs a task and a watch, which most guards never need.
    lost: OnceLock<watch::Receiver<bool>>,
    /// Whether the lock had been lost, once it is released (the release's
    /// `Lost` answer tells when the signal was never read).
    lost_when_released: Arc<Mutex<Option<bool>>>,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Held {
    pub fn new(guard: vinesync::LockGuard) -> Arc<Held> {
        Arc::new(Held {
            id: guard.id().to_string(),
            key: guard.key().to_string(),
            fencing_token: guard.fencing_token(),
            lease: guard.lease(),
            origin: Origin::here(),
            guard: Mutex::new(Some(guard)),
            lost: OnceLock::new(),
            lost_when_released: Arc::new(Mutex::new(None)),
        })
    }

    pub fn state(&self) -> State {
        // In a child of fork() the parent's lock is not this process's:
        // released, as far as the child can tell (SPEC H5).
        if !self.origin.is_here() {
            return State::Released;
        }
        if let Some(lost) = *locked(&self.lost_when_released) {
            return if lost { State::Lost } else { State::Released };
        }
        if *self.lost_signal().borrow() {
            State::Lost
        } else {
            State::Held
        }
    }

    pub fn is_released(&self) -> bool {
        !self.origin.is_here() || locked(&self.lost_when_released).is_some()
    }

    /// Once released: whether it had been lost (shared, for a waiter that
    /// wakes after the release).
    pub fn released_as(&self) -> Arc<Mutex<Option<bool>>> {
        self.lost_when_released.clone()
    }

    /// The lost signal; after the release, a fixed value.
    pub fn lost_signal(&self) -> watch::Receiver<bool> {
        if let Some(lost) = *locked(&self.lost_when_released) {
            return watch::channel(lost).1;
        }
        self.lost
            .get_or_init(|| match locked(&self.guard).as_ref() {
                Some(guard) => guard.lost_signal(),
                None => watch::channel(false).1,
            })
            .clone()
    }

    /// Takes the core guard for a release, recording the state.
    fn take(&self) -> Option<vinesync::LockGuard> {
        let guard = locked(&self.guard).take()?;
        // Seen lost by its signal, or known lost without one (its lease).
        let lost_before =
            self.lost.get().is_some_and(|lost| *lost.borrow()) || guard.is_known_lost();
        *locked(&self.lost_when_released) = Some(lost_before);
        Some(guard)
    }

    /// The release, as a future: `NotLocked` if it was released already,
    /// `Lost` if the lock had been lost.
    pub fn release(&self) -> impl Future<Output = vinesync::Result<()>> + Send + 'static {
        let guard = self.take();
        let lost_when_released = self.lost_when_released.clone();
        let id = self.id.clone();
        async move {
            let Some(guard) = guard else {
                return Err(Error::new(
                    ErrorKind::NotLocked,
                    format!("lock {id:?}: this guard was already released"),
                ));
            };
            let result = guard.unlock().await;
            if result.as_ref().is_err_and(|e| e.kind() == ErrorKind::Lost) {
                *locked(&lost_when_released) = Some(true);
            }
            result
        }
    }

    /// Forgets the acquisition without releasing it: the handle still holds
    /// it (until `Sync.unlock(id)` or close) or has released it already.
    pub fn forget(&self) {
        if let Some(guard) = self.take() {
            guard.detach();
        }
    }

    /// Releases in the background; for a result nobody will see.
    pub fn abandon(&self) {
        // Dropping a core guard releases it in the background.
        drop(self.take());
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(guard) = locked(&self.guard).take() else {
            return;
        };
        if self.origin.is_here() {
            // Held by the Sync until `Sync.unlock(id)` (vine's behaviour).
            guard.detach();
        } else {
            // A forked child: the parent's lock is not ours to touch (H5).
            std::mem::forget(guard);
        }
    }
}
