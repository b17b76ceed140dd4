//! cargo fuzz target: see `src/memory_model.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vinesync_fuzz::memory_model::run(data));
