//! The README shows `vinesync --help` and each subcommand's `-h` as the
//! binary prints them (up to the shared connection flags): a changed flag
//! fails here until the README is updated.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_vinesync"))
        .args(args)
        .output()
        .expect("running vinesync");
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    std::fs::read_to_string(path).expect("reading README.md")
}

#[test]
fn readme_shows_the_top_level_help() {
    let shown = format!("$ vinesync --help\n{}```", help(&["--help"]));
    assert!(readme().contains(&shown), "README.md lacks:\n{shown}");
}

#[test]
fn readme_shows_each_subcommand_help() {
    let readme = readme();
    for sub in ["lock", "elect", "members", "watch", "locks"] {
        let text = help(&[sub, "-h"]);
        let own = text.split("\nConnection").next().unwrap().trim_end();
        let shown = format!("$ vinesync {sub} -h\n{own}\n");
        assert!(readme.contains(&shown), "README.md lacks:\n{shown}");
    }
}
