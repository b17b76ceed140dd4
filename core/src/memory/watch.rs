//! A watch on the memory store: a channel fed under the store's lock, so no
//! event between the starting revision and now is missed.

use tokio::sync::mpsc::UnboundedReceiver;

use super::MemoryStore;
use crate::error::{Error, Result};
use crate::store::{Watch, WatchEvent, WatchNext};

pub(crate) struct MemoryWatch {
    store: MemoryStore,
    id: Option<u64>,
    rx: Option<UnboundedReceiver<WatchEvent>>,
    compacted_at: Option<i64>,
}

impl MemoryWatch {
    pub(super) fn new(store: MemoryStore, id: u64, rx: UnboundedReceiver<WatchEvent>) -> Self {
        MemoryWatch {
            store,
            id: Some(id),
            rx: Some(rx),
            compacted_at: None,
        }
    }

    pub(super) fn compacted(store: MemoryStore, revision: i64) -> Self {
        MemoryWatch {
            store,
            id: None,
            rx: None,
            compacted_at: Some(revision),
        }
    }
}

impl Watch for MemoryWatch {
    async fn next(&mut self) -> Result<WatchNext> {
        if let Some(revision) = self.compacted_at.take() {
            return Ok(WatchNext::Compacted { revision });
        }
        let Some(rx) = self.rx.as_mut() else {
            return Err(Error::internal("memory watch used after compaction"));
        };
        let Some(first) = rx.recv().await else {
            return Err(Error::internal("memory store dropped a watch"));
        };
        let mut events = vec![first];
        while let Ok(event) = rx.try_recv() {
            events.push(event);
        }
        Ok(WatchNext::Events(events))
    }
}

impl Drop for MemoryWatch {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.store.unwatch(id);
        }
    }
}
