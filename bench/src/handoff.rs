//! Handoff latency: every contender but one always queued on one lock, the
//! time from a release to the next acquisition. Measured the same way for
//! vinesync (memory and etcd) and for etcd's own server-side Lock RPC.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use vinesync::{Client, LockGuard};

use crate::stats::Samples;

/// One contender: takes the lock, later gives it back.
pub trait Contender: Send + 'static {
    type Held: Send;
    fn acquire(&self) -> impl Future<Output = vinesync::Result<Self::Held>> + Send;
    fn release(&self, held: Self::Held) -> impl Future<Output = vinesync::Result<()>> + Send;
}

impl Contender for Client {
    type Held = LockGuard;

    async fn acquire(&self) -> vinesync::Result<LockGuard> {
        self.lock("handoff", crate::memory::lock_options()).await
    }

    async fn release(&self, held: LockGuard) -> vinesync::Result<()> {
        held.unlock().await
    }
}

/// etcd's server-side Lock RPC (v3lock, which runs etcd's own
/// `concurrency.Mutex` recipe in the server), one lease a contender.
pub struct LockRpc {
    pub etcd: etcd_client::Client,
    pub name: String,
    pub lease: i64,
}

impl Contender for LockRpc {
    type Held = Vec<u8>;

    async fn acquire(&self) -> vinesync::Result<Vec<u8>> {
        let options = etcd_client::LockOptions::new().with_lease(self.lease);
        let locked = self
            .etcd
            .lock_client()
            .lock(self.name.as_str(), Some(options))
            .await
            .map_err(crate::etcd::internal)?;
        Ok(locked.key().to_vec())
    }

    async fn release(&self, key: Vec<u8>) -> vinesync::Result<()> {
        self.etcd
            .lock_client()
            .unlock(key)
            .await
            .map_err(crate::etcd::internal)?;
        Ok(())
    }
}

/// Acquisitions never counted, whatever the number of contenders.
pub const WARM_UP: u64 = 100;

/// Handoff latency with all but one of `contenders` always queued: time
/// from one holder's release to the next holder's acquisition (one task a
/// contender).
///
/// `handoffs` acquisitions are counted, after the first round (until then
/// the queue is still forming: fewer waiters, and their creates compete
/// with the handoffs) and at least [`WARM_UP`] acquisitions, so every
/// queue length starts counting as warm. After the
/// counted ones every client leaves the queue once it has had its turn;
/// those last handoffs, with ever fewer waiters behind them, are not
/// counted either. A contender is dropped only after every task has
/// ended, so no handoff includes a teardown.
pub async fn handoff<C: Contender>(
    contenders: Vec<C>,
    handoffs: usize,
) -> vinesync::Result<Samples> {
    let released_at = Arc::new(Mutex::new(None::<Instant>));
    let samples = Arc::new(Mutex::new(Samples::default()));
    let acquired = Arc::new(AtomicU64::new(0));
    // When the first and the last counted acquisitions happened.
    let window = Arc::new(Mutex::new((None::<Instant>, None::<Instant>)));
    let first_counted = (contenders.len() as u64).max(WARM_UP);
    let last_counted = first_counted + handoffs as u64 - 1;
    let mut tasks = Vec::new();
    for contender in contenders {
        let (released_at, samples, acquired, window) = (
            released_at.clone(),
            samples.clone(),
            acquired.clone(),
            window.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let held = contender.acquire().await?;
                let now = Instant::now();
                let released = released_at.lock().unwrap_or_else(|p| p.into_inner()).take();
                let n = acquired.fetch_add(1, Ordering::AcqRel);
                let counted = (first_counted..=last_counted).contains(&n);
                if n == first_counted || n == last_counted {
                    let mut window = window.lock().unwrap_or_else(|p| p.into_inner());
                    if n == first_counted {
                        window.0 = Some(now);
                    } else {
                        window.1 = Some(now);
                    }
                }
                if let Some(released) = released.filter(|_| counted) {
                    samples
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .record(now - released);
                }
                *released_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                contender.release(held).await?;
                if n >= last_counted {
                    return Ok::<_, vinesync::Error>(contender);
                }
            }
        }));
    }
    let mut finished = Vec::new();
    for task in tasks {
        finished.push(task.await.map_err(|e| {
            vinesync::Error::new(vinesync::ErrorKind::Internal, format!("bench task: {e}"))
        })??);
    }
    drop(finished);
    let mut samples = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // Throughput over the counted window: handoffs - 1 handoffs between its
    // first and its last acquisition.
    if let (Some(first), Some(last)) = *window.lock().unwrap_or_else(|p| p.into_inner()) {
        samples.set_throughput(last - first, handoffs.saturating_sub(1) as u64);
    }
    Ok(samples)
}
