//! The conformance suite on the memory backend: every handle of the run
//! shares one private `MemoryStore`, as the handles of one process share
//! the global store.

mod conformance;

use std::sync::Arc;

use vinesync::{Client, MemoryStore};

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let store = MemoryStore::new();
    let factory: conformance::Factory = Arc::new(move |options| {
        let store = store.clone();
        Box::pin(async move { Client::with_memory_store(store, options) })
    });
    libtest_mimic::run(&args, conformance::trials("memory", factory)).exit();
}
