//! The conformance suite under vine's key layout (`KeyLayout::Vine`), on
//! the memory backend and on a real single-node etcd (started for this run,
//! or the one in `VINESYNC_NODES`): every SPEC rule that can hold on vine's
//! keys (README, "Migrating from vine").

mod conformance;
mod etcd_env;

use std::sync::Arc;

use vinesync::{Client, KeyLayout, MemoryStore};

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let store = MemoryStore::new();
    let memory: conformance::Factory = Arc::new(move |options| {
        let store = store.clone();
        Box::pin(async move { Client::with_memory_store(store, options) })
    });
    let etcd = etcd_env::start(1);
    let endpoints = etcd.endpoints.clone();
    let on_etcd: conformance::Factory = Arc::new(move |options| {
        let endpoints = endpoints.clone();
        Box::pin(async move { Client::etcd(options.nodes(endpoints)).await })
    });
    let mut trials = conformance::trials_in_layout("vine-layout-memory", KeyLayout::Vine, memory);
    trials.push(conformance::leak_check_trial());
    trials.extend(conformance::trials_in_layout(
        "vine-layout-etcd",
        KeyLayout::Vine,
        on_etcd,
    ));
    let conclusion = libtest_mimic::run(&args, trials);
    if !conclusion.has_failed() {
        etcd.assert_no_leases_left();
    }
    drop(etcd); // stop etcd before exiting
    conclusion.exit()
}
