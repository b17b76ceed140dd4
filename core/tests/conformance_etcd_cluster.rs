//! The conformance suite on a real 3-member etcd cluster, started for this
//! run and stopped at the end.

mod conformance;
mod etcd_env;

fn main() {
    etcd_env::run_conformance(3, "etcd3");
}
