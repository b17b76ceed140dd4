//! cargo fuzz target: see `src/c_abi_arguments.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vinesync_fuzz::c_abi_arguments::run(data));
