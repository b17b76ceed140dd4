//! Replays every input saved under `fuzz/corpus/<target>/` through its
//! target's body: what the fuzzers once found (and the crashes they found,
//! once fixed) keeps passing. Run by `make test` (`fuzz-replay`).

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{}: no saved inputs", dir.display());
    for input in &inputs {
        let data = std::fs::read(input).expect("a corpus file");
        eprintln!("{target}: {}", input.display());
        run(&data);
    }
    println!("{target}: {} inputs replayed", inputs.len());
}

#[test]
fn c_abi_arguments() {
    replay("c_abi_arguments", vinesync_fuzz::c_abi_arguments::run);
}

#[test]
fn election_values() {
    replay("election_values", vinesync_fuzz::election_values::run);
}

#[test]
fn memory_model() {
    replay("memory_model", vinesync_fuzz::memory_model::run);
}
