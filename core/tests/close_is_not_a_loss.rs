//! SPEC H1: closing a handle ends its locks (their lost signals fire, so
//! guarded work stops), but nothing failed: no warning is logged. A lock
//! lost to its lease's expiry is warned about (which shows the capture
//! below would see the warning).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use vinesync::{Client, LockOptions, MemoryStore, Options};
use vinesync_testkit::CapturedLog;

/// Locks "x" on a new memory handle, starts watching for its loss, ends it
/// with `end`, and waits for the lost signal.
async fn lock_then(end: impl AsyncFnOnce(&Client)) {
    let client = Client::with_memory_store(MemoryStore::new(), Options::new()).unwrap();
    let options = LockOptions::new().ttl(Duration::from_secs(30));
    let guard = client.lock("x", options).await.unwrap();
    let mut lost = guard.lost_signal();
    end(&client).await;
    tokio::time::timeout(Duration::from_secs(10), lost.wait_for(|l| *l))
        .await
        .expect("the lost signal did not fire")
        .unwrap();
    drop(guard);
    client.close().await;
}

#[test]
fn closing_a_handle_is_not_logged_as_a_lost_lock() {
    let captured = CapturedLog::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            lock_then(async |client| client.close().await).await;
            let logs = captured.take();
            assert!(
                !logs.contains("WARN"),
                "closing the handle logged a warning:\n{logs}"
            );
            lock_then(async |client| client.faults().expire_leases().await.unwrap()).await;
            let logs = captured.take();
            assert!(
                logs.contains("WARN") && logs.contains("lock lost"),
                "a lock lost to an expired lease was not warned about:\n{logs}"
            );
        });
    });
}
