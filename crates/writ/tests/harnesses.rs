//! The test build stays cheap (issue 15 item 7): the workspace has at most five test harnesses.
//! Each one is a binary linked against its dependencies (or, for doctests, a run that compiles
//! every example), which costs more than most tests in it. Counted as `cargo test` runs them,
//! from `cargo metadata`: every lib, bin, test or bench target with `test = true`, plus every lib
//! with `doctest = true`. `cargo test --workspace --no-run 2>&1 | grep Executable` lists the
//! binaries; docs/architecture.md lists the harnesses.

use std::process::Command;

use serde_json::Value;

const MAX_HARNESSES: usize = 5;

#[test]
fn the_workspace_has_at_most_five_test_harnesses() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .args(["--manifest-path", manifest])
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut harnesses = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        for target in package["targets"].as_array().unwrap() {
            let kinds: Vec<&str> = target["kind"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let runs_tests = kinds
                .iter()
                .any(|k| ["lib", "rlib", "bin", "test", "bench"].contains(k));
            let name = format!("{} {}", kinds.join(","), target["name"].as_str().unwrap());
            if runs_tests && target["test"] == true {
                harnesses.push(name.clone());
            }
            if kinds.iter().any(|k| *k == "lib" || *k == "rlib") && target["doctest"] == true {
                harnesses.push(format!("{name} (doctests)"));
            }
        }
    }
    assert!(
        harnesses.len() <= MAX_HARNESSES,
        "{} test harnesses, at most {MAX_HARNESSES} wanted: {harnesses:?}; merge tests into the \
         suite (crates/writ/tests/suite.rs) or set `test = false` / `doctest = false`",
        harnesses.len()
    );
}
