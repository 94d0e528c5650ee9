//! The repository's example contracts, built by this crate's build script
//! for `wasm32-unknown-unknown` (release) from `contracts/`.

use std::path::PathBuf;

use crate::Error;

/// The example contracts, by crate name.
pub const NAMES: &[&str] = &[
    "counter", "token", "registry", "hasher", "hostile", "escrow", "multisig", "attacks",
];

/// Modules built with the examples that are not contracts: the benchmark
/// kernels (plain exports that take a size, no host imports), which
/// [`path`] and [`wasm`] find too.
pub const MODULES: &[&str] = &["kernels"];

/// The directory the build script built the contracts into, if this build
/// has one.
pub fn dir() -> Option<PathBuf> {
    option_env!("DETVM_CONTRACTS_DIR").map(PathBuf::from)
}

/// The path of the example contract or module `name` (e.g. `"token"`), if
/// it is built.
pub fn path(name: &str) -> Result<PathBuf, Error> {
    let no_contract = |reason: &str| Error::NoContract {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    if !NAMES.contains(&name) && !MODULES.contains(&name) {
        return Err(no_contract(&format!(
            "the examples are {}, and the other modules {}",
            NAMES.join(", "),
            MODULES.join(", ")
        )));
    }
    let dir = dir().ok_or_else(|| no_contract("the test kit was built without contracts/"))?;
    let path = dir.join(format!("{name}.wasm"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(no_contract(&format!(
            "{} is missing; run scripts/build-contracts.sh",
            path.display()
        )))
    }
}

/// The code of the example contract `name`.
pub fn wasm(name: &str) -> Result<Vec<u8>, Error> {
    let path = path(name)?;
    std::fs::read(&path).map_err(|source| Error::Read { path, source })
}
