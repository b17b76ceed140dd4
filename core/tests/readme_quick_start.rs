//! The README's Rust quick start is `examples/quick_start.rs`, which cargo
//! builds with the other examples: a snippet that stops compiling, or a
//! README that stops matching the example, fails here. (Not in the
//! published package: the repository README is outside the crate.)

#![allow(clippy::expect_used, clippy::panic)]

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

#[test]
fn the_readme_shows_the_quick_start_example() {
    let readme = read(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
    let example = read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/quick_start.rs"
    ));
    let block = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README.md has a ```rust block");
    // The example is the block after its own header (doc comment, lints).
    let code = example
        .split_once("\n\nuse ")
        .map(|(_, rest)| format!("use {rest}"))
        .expect("examples/quick_start.rs has its use lines after the header");
    assert_eq!(
        block, code,
        "README.md's quick start differs from examples/quick_start.rs"
    );
}
