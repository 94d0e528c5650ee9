//! The hasher contract: SHA-256 in Wasm against the host's `sha256`.

use detvm_testkit::{ContractId, TestChain};
use sha2::{Digest, Sha256};

fn setup() -> (TestChain, ContractId) {
    let mut chain = TestChain::new();
    let hasher = chain.deploy_example("hasher").expect("deploy hasher");
    (chain, hasher)
}

/// Deterministic test data of `len` bytes.
fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

/// Both digests and both gas amounts for `input`.
fn hash_both(
    chain: &TestChain,
    hasher: &ContractId,
    input: &[u8],
) -> ([u8; 32], u64, [u8; 32], u64) {
    let args = (input.to_vec(),);
    let wasm = chain
        .view(hasher, "sha256_wasm", &args)
        .gas(1_000_000_000)
        .run();
    let host = chain
        .view(hasher, "sha256_host", &args)
        .gas(1_000_000_000)
        .run();
    (
        wasm.returned(),
        wasm.gas_used(),
        host.returned(),
        host.gas_used(),
    )
}

#[test]
fn wasm_digest_equals_host_digest_equals_sha2() {
    let (chain, hasher) = setup();
    // Around every padding boundary: empty, one block less the length field,
    // exactly one block, several blocks.
    for len in [
        0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1_000, 4_096,
    ] {
        let input = data(len);
        let expected: [u8; 32] = Sha256::digest(&input).into();
        let (wasm, _, host, _) = hash_both(&chain, &hasher, &input);
        assert_eq!(wasm, expected, "in-Wasm digest of {len} bytes");
        assert_eq!(host, expected, "host digest of {len} bytes");
    }
}

#[test]
fn known_answer() {
    let (chain, hasher) = setup();
    let (wasm, _, host, _) = hash_both(&chain, &hasher, b"abc");
    let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let hex = |d: [u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(hex(wasm), expected);
    assert_eq!(hex(host), expected);
}

#[test]
fn host_hashing_uses_less_gas_for_large_inputs() {
    let (chain, hasher) = setup();
    for len in [1_024, 16 * 1_024, 64 * 1_024] {
        let input = data(len);
        let (wasm, wasm_gas, host, host_gas) = hash_both(&chain, &hasher, &input);
        assert_eq!(wasm, host);
        println!("sha256 of {len:>6} bytes: in Wasm {wasm_gas:>10} gas, host {host_gas:>8} gas");
        assert!(
            host_gas < wasm_gas,
            "{len} bytes: host {host_gas} gas, in Wasm {wasm_gas} gas"
        );
    }
}

#[test]
fn gas_is_deterministic() {
    let (chain, hasher) = setup();
    let input = data(10_000);
    let first = hash_both(&chain, &hasher, &input);
    let (other_chain, other_hasher) = setup();
    let second = hash_both(&other_chain, &other_hasher, &input);
    assert_eq!(first, second);
}
