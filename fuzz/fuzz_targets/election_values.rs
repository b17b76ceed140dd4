//! cargo fuzz target: see `src/election_values.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vinesync_fuzz::election_values::run(data));
