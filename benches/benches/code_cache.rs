//! The first call of each of 100 contracts after a restart (`docs/vm.md`,
//! "Compiled code on disk"), on a chain over in-memory storage whose
//! contracts are already deployed:
//!
//! * `cold_compile`: no code cache, so each first call validates,
//!   instruments and compiles its contract (what a restart cost before);
//! * `disk_hit`: the code cache directory holds all 100, so each first call
//!   loads its module from disk (read, checksum, decode, relocate), then
//!   instantiates and runs it.
//!
//! An iteration is a whole restart: a new `Chain` (new engine, empty
//! in-memory module cache), the cache directory opened again, then one
//! view of each contract. Divide by 100 for the cost per contract. The
//! files are in the OS page cache, as after a restart of the process (not
//! of the machine).

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use detvm_host::{CallContext, Chain, CodeCache, ContractId, MemoryStorage, Storage};
use detvm_testkit::contracts::wasm;

const CONTRACTS: usize = 100;

fn context() -> CallContext {
    CallContext {
        caller: "bench".into(),
        gas: 100_000_000,
        block_height: 1,
        block_timestamp: 0,
        amount: 0,
    }
}

/// `code` with a custom section holding `nonce`: another code hash, so
/// another cache entry and another compilation, for the same behaviour.
fn variant(code: &[u8], nonce: usize) -> Vec<u8> {
    let name = b"bench-nonce";
    let payload = nonce.to_le_bytes();
    let mut out = code.to_vec();
    out.push(0);
    out.push((1 + name.len() + payload.len()) as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out
}

/// Deploys 50 counters and 50 tokens and returns each with a method that
/// takes no input.
fn deploy_all(storage: &Arc<dyn Storage>) -> Vec<(ContractId, &'static str)> {
    let mut chain = Chain::with_storage(storage.clone()).expect("chain");
    let sources = [
        (wasm("counter").expect("built"), "get"),
        (wasm("token").expect("built"), "symbol"),
    ];
    (0..CONTRACTS)
        .map(|i| {
            let (code, method) = &sources[i % 2];
            let contract = chain
                .deploy(&variant(code, i), "bench")
                .expect("deploys")
                .contract;
            (contract, *method)
        })
        .collect()
}

fn first_calls(
    storage: &Arc<dyn Storage>,
    contracts: &[(ContractId, &str)],
    cache: Option<&std::path::Path>,
) {
    let mut chain = Chain::with_storage(storage.clone()).expect("chain");
    if let Some(dir) = cache {
        chain.set_code_cache(Arc::new(CodeCache::open(dir, 1 << 30)));
    }
    let ctx = context();
    for (contract, method) in contracts {
        let receipt = chain.view(contract, method, b"", &ctx).expect("runs");
        assert!(receipt.is_success(), "{:?}", receipt.outcome);
    }
}

fn restart(c: &mut Criterion) {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let contracts = deploy_all(&storage);
    let dir = tempfile::tempdir().expect("temp dir");
    // Fill the cache once.
    first_calls(&storage, &contracts, Some(dir.path()));

    let mut group = c.benchmark_group("code_cache_first_call_100");
    group.sample_size(10);
    group.throughput(Throughput::Elements(CONTRACTS as u64));
    group.bench_function("cold_compile", |b| {
        b.iter(|| first_calls(&storage, &contracts, None))
    });
    group.bench_function("disk_hit", |b| {
        b.iter(|| first_calls(&storage, &contracts, Some(dir.path())))
    });
    group.finish();
}

criterion_group!(benches, restart);
criterion_main!(benches);
