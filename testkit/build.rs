//! Builds the example contracts (the separate workspace in `contracts/`) for
//! `wasm32-unknown-unknown` in release mode, so that `cargo test` of this
//! crate runs them through the real VM without a separate build step.
//!
//! The nested cargo uses its own target directory, `target/contracts` (the
//! one `scripts/build-contracts.sh` uses too): the outer cargo holds the lock
//! on its own build directory while this script runs. It also runs without
//! the flags and wrappers the outer build set for host code, so the contract
//! bytes depend only on `contracts/` and its lock file.
//!
//! Exports to the crate: `DETVM_CONTRACTS_DIR`, the directory holding
//! `<name>.wasm`.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, exit};

const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest_dir.parent().unwrap_or(&manifest_dir).to_path_buf();
    let contracts = root.join("contracts");
    let target_dir = root.join("target").join("contracts");
    let out = target_dir.join(TARGET).join("release");

    // Outside this repository (the test kit used as a dependency) there are
    // no example contracts to build.
    if !contracts.join("Cargo.toml").is_file() {
        return;
    }
    watch(&contracts);
    println!("cargo:rustc-env=DETVM_CONTRACTS_DIR={}", out.display());

    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    if !target_installed(&rustc) {
        fail(&format!(
            "the Rust target {TARGET} is not installed; the example contracts are built for it.\n\
             Install it with `rustup target add {TARGET}` (or run scripts/build-contracts.sh, which does)."
        ));
    }

    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--release")
        .arg("--locked")
        .args(["--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        .arg("--manifest-path")
        .arg(contracts.join("Cargo.toml"))
        .current_dir(&contracts);
    scrub(&mut command);
    // Panic locations in dependencies would otherwise embed this machine's
    // cargo home; scripts/build-contracts.sh sets the same flag.
    let mut remap = OsString::from("--remap-path-prefix=");
    remap.push(cargo_home());
    remap.push("=/cargo");
    command.env("CARGO_ENCODED_RUSTFLAGS", remap);
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => fail(&format!(
            "building the contracts failed ({status}); the cargo output is above.\n\
             Reproduce with scripts/build-contracts.sh (which also updates contracts/Cargo.lock \
             after a dependency change; this build uses it --locked)."
        )),
        Err(e) => fail(&format!("cannot run cargo to build the contracts: {e}")),
    }
}

/// Reruns this script when any contract source, manifest or the lock file
/// changes. Each crate is listed, not `contracts/` as a whole, so a
/// `contracts/target` left by a direct `cargo build` there is not watched.
fn watch(contracts: &Path) {
    for file in ["Cargo.toml", "Cargo.lock", "build-contract.rs"] {
        println!("cargo:rerun-if-changed={}", contracts.join(file).display());
    }
    let Ok(entries) = std::fs::read_dir(contracts) else {
        return;
    };
    for entry in entries.flatten() {
        let crate_dir = entry.path();
        if crate_dir.join("Cargo.toml").is_file() {
            println!(
                "cargo:rerun-if-changed={}",
                crate_dir.join("Cargo.toml").display()
            );
            println!("cargo:rerun-if-changed={}", crate_dir.join("src").display());
        }
    }
}

/// Whether the standard library for [`TARGET`] is installed for `rustc`.
fn target_installed(rustc: &OsString) -> bool {
    let Ok(output) = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
    else {
        return false;
    };
    let libdir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    output.status.success()
        && std::fs::read_dir(&libdir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
        })
}

/// Removes what the outer build set for host code: flags, target and target
/// directory overrides, profile overrides, and wrappers such as clippy's.
fn scrub(command: &mut Command) {
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        let host_only = matches!(
            key.as_ref(),
            "RUSTFLAGS"
                | "RUSTDOCFLAGS"
                | "CARGO_ENCODED_RUSTFLAGS"
                | "CARGO_ENCODED_RUSTDOCFLAGS"
                | "RUSTC_WORKSPACE_WRAPPER"
                | "CARGO_TARGET_DIR"
                | "CARGO_BUILD_TARGET"
        ) || key.starts_with("CARGO_BUILD_")
            || key.starts_with("CARGO_PROFILE_")
            || key.starts_with("CARGO_TARGET_");
        if host_only {
            command.env_remove(key.as_ref());
        }
    }
}

/// Cargo's home directory, as cargo itself finds it.
fn cargo_home() -> PathBuf {
    match env::var_os("CARGO_HOME") {
        Some(home) if !home.is_empty() => PathBuf::from(home),
        _ => PathBuf::from(env::var_os("HOME").unwrap_or_default()).join(".cargo"),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    exit(1)
}
