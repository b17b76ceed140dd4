//! The conformance suite on a real single-node etcd, started for this run
//! (or the one in `VINESYNC_NODES`) and stopped at the end.

mod conformance;
mod etcd_env;

fn main() {
    etcd_env::run_conformance(1, "etcd");
}
