//! The chain's executor without the node around it: a block of 10,000
//! signed transfers built (signatures checked, executed, state root
//! computed) and committed, on a ledger in memory and on a redb file.

use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use detvm_chain::{Action, Genesis, Keypair, Ledger, SignedTransaction, Transaction};
use detvm_state::StateDb;

const TRANSFERS: usize = 10_000;
/// Senders: dev accounts, so the block needs no funding transactions.
const SENDERS: u32 = 10;

fn transfers() -> Vec<SignedTransaction> {
    let keys: Vec<Keypair> = (0..SENDERS).map(Keypair::dev).collect();
    (0..TRANSFERS)
        .map(|i| {
            let key = &keys[i % SENDERS as usize];
            Transaction {
                chain_id: "detvm-dev".into(),
                signer: key.implicit_id(),
                public_key: key.public_key(),
                nonce: (i / SENDERS as usize) as u64,
                gas_limit: 100_000,
                action: Action::Transfer {
                    // Many distinct receivers: the tree grows as it would.
                    to: Keypair::from_seed([(i % 200) as u8; 32]).implicit_id(),
                    amount: 1,
                },
            }
            .sign(key)
        })
        .collect()
}

fn block_of_transfers(c: &mut Criterion) {
    let txs = transfers();
    let mut group = c.benchmark_group("block_10k_transfers");
    group.sample_size(10);
    group.throughput(Throughput::Elements(TRANSFERS as u64));
    group.bench_function("memory", |b| {
        b.iter_batched(
            || {
                Ledger::open(Arc::new(StateDb::in_memory().expect("db")), &Genesis::dev())
                    .expect("ledger")
            },
            |mut ledger| {
                let built = ledger.build_block(txs.clone(), 1, "bench").expect("build");
                assert_eq!(built.block.transactions.len(), TRANSFERS);
                ledger.commit(built).expect("commit");
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("redb_file", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("dir");
                let db = StateDb::open(&dir.path().join("chain.redb")).expect("db");
                (
                    dir,
                    Ledger::open(Arc::new(db), &Genesis::dev()).expect("ledger"),
                )
            },
            |(_dir, mut ledger)| {
                let built = ledger.build_block(txs.clone(), 1, "bench").expect("build");
                ledger.commit(built).expect("commit");
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, block_of_transfers);
criterion_main!(benches);
