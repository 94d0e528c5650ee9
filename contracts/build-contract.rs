//! The build script of every contract crate (`build = "../build-contract.rs"`).
//!
//! Links the contract with a 64 KiB shadow stack instead of Rust's default
//! 1 MiB. The runtime charges gas for every page of initial memory at every
//! call, and Rust places the shadow stack in that memory: 1 MiB is 16 pages
//! paid by every call, for stack that contracts do not use (the deep call
//! chains are bounded by the VM's own stack limit first). The stack sits
//! below static data, at the bottom of memory, so overflowing it traps with
//! `memory_out_of_bounds` instead of overwriting anything.

fn main() {
    println!("cargo:rustc-link-arg=-zstack-size=65536");
    println!("cargo:rerun-if-changed=../build-contract.rs");
}
