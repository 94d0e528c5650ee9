//! Throughput of the front end (validate + instrument) on a large generated
//! module (`detvm_fixtures::realistic`, 4 MB), in input bytes per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use detvm_fixtures::realistic;
use detvm_metering::{Config, Limits, Schedule, StackConfig, instrument, validate};

fn front_end(c: &mut Criterion) {
    // The largest module of the benchmark corpus: realistic contract code,
    // over the contract size limit, hence the spec limits.
    let bytes = realistic::module(4_000_000, realistic::SEED);
    let mut config = Config::default();
    config.limits = Limits::spec();
    let schedule = Schedule::v1();
    let stack = StackConfig::default();
    let info = validate(&bytes, &config).expect("generated module validates");

    let mut group = c.benchmark_group("front_end");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(10);
    group.bench_function("validate_and_instrument", |b| {
        b.iter(|| {
            let info = validate(black_box(&bytes), &config).expect("validates");
            instrument(black_box(&bytes), &info, &schedule, &stack).expect("instruments")
        })
    });
    group.bench_function("instrument", |b| {
        b.iter(|| instrument(black_box(&bytes), &info, &schedule, &stack).expect("instruments"))
    });
    // Reference point for this machine: plain wasmparser validation alone.
    group.bench_function("wasmparser_validate_reference", |b| {
        b.iter(|| {
            wasmparser::Validator::new()
                .validate_all(black_box(&bytes))
                .expect("valid")
        })
    });
    group.finish();
}

criterion_group!(benches, front_end);
criterion_main!(benches);
