//! The bodies of the cargo fuzz targets (`fuzz_targets/` calls them), kept
//! in a library so `tests/corpus_replay.rs` can replay the saved corpus of
//! each on the stable toolchain in `make test`.

pub mod c_abi_arguments;
pub mod election_values;
pub mod memory_model;
