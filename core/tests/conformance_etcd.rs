//! The conformance suite on a real etcd with 1 member(s), started
//! for this run (or the one in `VINESYNC_NODES`) and stopped at the end.

mod conformance;
mod etcd_env;

use std::sync::Arc;

use vinesync::Client;

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let etcd = etcd_env::start(1);
    let endpoints = etcd.endpoints.clone();
    let factory: conformance::Factory = Arc::new(move |options| {
        let endpoints = endpoints.clone();
        Box::pin(async move { Client::etcd(options.nodes(endpoints)).await })
    });
    let conclusion = libtest_mimic::run(&args, conformance::trials("etcd", factory));
    if !conclusion.has_failed() {
        etcd.assert_no_leases_left();
    }
    drop(etcd); // stop etcd before exiting
    conclusion.exit();
}
