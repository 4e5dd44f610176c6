//! The workspace promises a minimum Rust version (`rust-version` in
//! Cargo.toml). This checks the promise against the lock file: no locked
//! dependency may ask for a newer Rust than the kit says it needs.

use std::process::Command;

#[test]
fn no_dependency_needs_a_newer_rust_than_the_kit() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Only the packages this platform builds: the others (wasm, Windows)
    // were never downloaded, and offline their manifests cannot be read.
    let rustc = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("running rustc -vV");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(String::from))
        .expect("rustc -vV names the host");
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let ours = version(env!("CARGO_PKG_RUST_VERSION"));
    let mut too_new = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        if let Some(needed) = package["rust_version"].as_str() {
            if version(needed) > ours {
                too_new.push(format!(
                    "{} {} needs Rust {needed}",
                    package["name"], package["version"]
                ));
            }
        }
    }
    assert!(
        too_new.is_empty(),
        "the workspace says rust-version {}, but:\n{}",
        env!("CARGO_PKG_RUST_VERSION"),
        too_new.join("\n")
    );
}

/// "1.85" or "1.85.0" as comparable numbers.
fn version(text: &str) -> Vec<u32> {
    let mut parts: Vec<u32> = text.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    parts.resize(3, 0);
    parts
}
