//! Handles still open when the process exits are closed then (SPEC H4):
//! their locks and candidacies are released when etcd is reachable instead
//! of waiting for their TTL. An `atexit` handler, registered with the first
//! handle, closes every handle of this process that was not freed; a call
//! blocked on one of them (e.g. `vs_lock` in another thread) returns
//! `VS_CLOSED`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

use vinesync::Client;

use crate::owner::PerProcess;
use crate::runtime::block_on;

type Registry = Mutex<HashMap<u64, Client>>;

static LIVE: PerProcess<Registry> = PerProcess::new();
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn registry() -> &'static Registry {
    LIVE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Records an open handle; returns the key `forget` takes.
pub(crate) fn register(client: &Client) -> u64 {
    static AT_EXIT: Once = Once::new();
    // A child of fork() inherits the registration; it then finds only its
    // own handles (the registry is per process).
    AT_EXIT.call_once(|| {
        // SAFETY: registering a plain `extern "C" fn()`.
        unsafe { libc::atexit(close_live_handles) };
    });
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    lock(registry()).insert(id, client.clone());
    id
}

/// Forgets a handle that is being freed.
pub(crate) fn forget(id: u64) {
    lock(registry()).remove(&id);
}

fn lock(registry: &Registry) -> std::sync::MutexGuard<'_, HashMap<u64, Client>> {
    registry.lock().unwrap_or_else(|e| e.into_inner())
}

extern "C" fn close_live_handles() {
    crate::handles::quietly(|| {
        let clients: Vec<Client> = lock(registry()).drain().map(|(_, c)| c).collect();
        if clients.is_empty() {
            return;
        }
        // All at once: exit waits at most about one request timeout.
        let _ = block_on(None, None, async move {
            let mut closing = tokio::task::JoinSet::new();
            for client in clients {
                closing.spawn(async move { client.close().await });
            }
            while closing.join_next().await.is_some() {}
            Ok(())
        });
    });
}
