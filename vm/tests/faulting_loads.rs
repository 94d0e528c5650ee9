//! Faulting loads (`docs/vm.md`, "Faulting loads"): a load without an
//! explicit check reads its bytes or ends the call with
//! `memory_out_of_bounds`, exactly where the check would have trapped,
//! with the same gas, for every width, at every offset up to the guard and
//! beyond it, across `memory.grow`, with many memories alive at once.

mod common;

use common::{checks_per_function, is_faulting_load};
use detvm_vm::*;

/// One load per export: `(name, size in bytes, offset, Wasm of the load)`.
/// Every export returns the loaded bits as an `i64`. The `+` forms feed the
/// load straight into arithmetic, which x86-64 folds into one instruction
/// that reads memory.
const LOADS: [(&str, u64, &str); 10] = [
    (
        "i32",
        4,
        "(i64.extend_i32_u (i32.load offset=OFF (local.get 0)))",
    ),
    ("i64", 8, "(i64.load offset=OFF (local.get 0))"),
    (
        "f32",
        4,
        "(i64.extend_i32_u (i32.reinterpret_f32 (f32.load offset=OFF (local.get 0))))",
    ),
    (
        "f64",
        8,
        "(i64.reinterpret_f64 (f64.load offset=OFF (local.get 0)))",
    ),
    (
        "u8",
        1,
        "(i64.extend_i32_u (i32.load8_u offset=OFF (local.get 0)))",
    ),
    (
        "s16",
        2,
        "(i64.extend_i32_u (i32.load16_s offset=OFF (local.get 0)))",
    ),
    ("s32", 4, "(i64.load32_s offset=OFF (local.get 0))"),
    ("s8", 1, "(i64.load8_s offset=OFF (local.get 0))"),
    (
        "i32+",
        4,
        "(i64.extend_i32_u (i32.add (i32.load offset=OFF (local.get 0)) (i32.const 1)))",
    ),
    (
        "f64+",
        8,
        "(i64.reinterpret_f64 (f64.mul (f64.load offset=OFF (local.get 0)) (f64.const 1)))",
    ),
];

/// Offsets: none, small, a page, the last a faulting `i64` load may have
/// (`offset + 8` equal to the 2 GiB guard), the first beyond the guard
/// (checked explicitly) and the largest.
const OFFSETS: [u64; 6] = [0, 7, 65_536, (2 << 30) - 8, 2 << 30, 0xffff_ffff];

const PAGE: u64 = 65_536;
const GAS: u64 = 1_000_000;

fn export_name(load: &str, offset: u64) -> String {
    format!("{load}@{offset}")
}

/// A module of `memory` (its limits) with a `grow` export, and an export
/// per access of `accesses` at each of [`OFFSETS`], each with `signature`.
fn module_of(memory: &str, accesses: &[(&str, u64, &str)], signature: &str) -> Vec<u8> {
    let mut wat = format!(
        r#"(module (memory (export "mem") {memory})
        (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))"#
    );
    for offset in OFFSETS {
        for (name, _, body) in accesses {
            wat.push_str(&format!(
                "(func (export \"{}\") {signature} {})\n",
                export_name(name, offset),
                body.replace("OFF", &offset.to_string())
            ));
        }
    }
    wat.push(')');
    wat::parse_str(&wat).expect("wat")
}

fn module() -> Vec<u8> {
    module_of("1 3", &LOADS, "(param i32) (result i64)")
}

/// What Wasm says `name` at `offset` returns for `addr`, given the
/// memory's bytes: the loaded bits, or `None` for a trap.
fn expected(memory: &[u8], name: &str, size: u64, offset: u64, addr: u32) -> Option<i64> {
    let start = u64::from(addr) + offset;
    if start + size > memory.len() as u64 {
        return None;
    }
    let mut bytes = [0u8; 8];
    let start = start as usize;
    bytes[..size as usize].copy_from_slice(&memory[start..start + size as usize]);
    let raw = u64::from_le_bytes(bytes);
    Some(match name {
        "i32" | "f32" | "u8" => raw as i64,
        "i64" | "f64" => raw as i64,
        "s16" => i64::from(raw as u16 as i16) as u32 as i64,
        "s32" => i64::from(raw as u32 as i32),
        "s8" => i64::from(raw as u8 as i8),
        "i32+" => (raw as u32).wrapping_add(1) as i64,
        "f64+" => {
            let x = f64::from_bits(raw);
            // The pattern below holds no NaN, so `x * 1` is `x`.
            (x * 1.0).to_bits() as i64
        }
        other => panic!("unknown load {other}"),
    })
}

/// The addresses around the end of a memory of `len` bytes for a load of
/// `size` at `offset`, and far ones.
fn addresses(len: u64, size: u64, offset: u64) -> Vec<u32> {
    let mut out = vec![0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_fff8, 0xffff_ffff];
    if let Some(last) = (len).checked_sub(offset + size) {
        // `last` is the highest address in bounds: around it, straddling
        // the end by every byte, and just past.
        for delta in -2i64..=(size as i64 + 1) {
            if let Some(addr) = (last as i64).checked_add(delta)
                && (0..=i64::from(u32::MAX)).contains(&addr)
            {
                out.push(addr as u32);
            }
        }
    }
    out
}

/// Loads of every width at every offset, around the end of the memory as
/// it grows, under faulting and explicit checks, metered and not: each
/// result is what Wasm says, and both ways agree on gas.
#[test]
fn faulting_loads_trap_exactly_where_checks_do() {
    let bytes = module();
    let engines: Vec<(String, Engine)> = [false, true]
        .into_iter()
        .flat_map(|explicit| {
            [true, false].into_iter().map(move |metering| {
                let mut config = EngineConfig::default();
                config.explicit_bounds_checks = explicit;
                config.metering = metering;
                (
                    format!("explicit={explicit} metering={metering}"),
                    Engine::new(config).expect("engine"),
                )
            })
        })
        .collect();
    let mut instances: Vec<(Store<()>, Instance)> = engines
        .iter()
        .map(|(_, engine)| common::instantiate(engine, &bytes))
        .collect();

    for pages in [1u64, 2, 3] {
        let len = pages * PAGE;
        // A pattern at both ends of the memory, so a value read from the
        // wrong place shows.
        let pattern: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        let mut memory_now = Vec::new();
        for (store, instance) in &mut instances {
            let memory = instance.get_memory(store, "mem").expect("memory");
            assert_eq!(memory.size(store).expect("size"), pages);
            memory.write(store, 0, &pattern).expect("write");
            memory
                .write(store, len - pattern.len() as u64, &pattern)
                .expect("write");
            memory_now = memory.data(store).expect("data").to_vec();
        }
        let mut checked = 0;
        for offset in OFFSETS {
            for (name, size, _) in LOADS {
                let export = export_name(name, offset);
                for addr in addresses(len, size, offset) {
                    let want = expected(&memory_now, name, size, offset, addr);
                    let mut gas = Vec::new();
                    for ((label, _), (store, instance)) in engines.iter().zip(&mut instances) {
                        let outcome = instance
                            .call(store, &export, &[Value::I32(addr as i32)], GAS)
                            .expect("call");
                        let got = match &outcome {
                            Outcome::Success { results, .. } => match results[..] {
                                [Value::I64(v)] => Some(v),
                                ref other => panic!("{export}: results {other:?}"),
                            },
                            Outcome::Trap { kind, .. } => {
                                assert_eq!(
                                    *kind,
                                    TrapKind::MemoryOutOfBounds,
                                    "{label} {export} at {addr:#x}"
                                );
                                None
                            }
                        };
                        assert_eq!(got, want, "{label} {export} at {addr:#x}, {pages} pages");
                        gas.push(outcome.gas_used());
                        checked += 1;
                    }
                    // Metered runs of both ways used the same gas.
                    assert_eq!(gas[0], gas[2], "{export} at {addr:#x}");
                }
            }
        }
        assert!(checked > 2_000, "{checked} loads");
        for (store, instance) in &mut instances {
            let grown = instance
                .call(store, "grow", &[Value::I32(1)], GAS)
                .expect("call");
            let want = if pages < 3 { pages as i32 } else { -1 };
            assert!(
                matches!(&grown, Outcome::Success { results, .. } if results[..] == [Value::I32(want)]),
                "{grown:?}"
            );
        }
    }
}

/// Where loads fault, the translated code has no explicit check for a load
/// the compiler cannot prove, except one whose offset reaches past the
/// guard; with explicit checks every such load has one.
#[test]
fn only_loads_within_the_guard_fault() {
    let bytes = module();
    let functions = LOADS.len() * OFFSETS.len() + 1;
    for explicit in [false, true] {
        let mut config = EngineConfig::default();
        config.explicit_bounds_checks = explicit;
        let engine = Engine::new(config).expect("engine");
        let clif = Module::translated_clif(&engine, &bytes).expect("compiles");
        assert_eq!(clif.len(), functions);
        let faults_here = !explicit && cfg!(not(target_arch = "riscv64"));
        for (i, offset) in OFFSETS.iter().enumerate() {
            for j in 0..LOADS.len() {
                let text = &clif[1 + i * LOADS.len() + j];
                let faulting = text.lines().filter(|l| is_faulting_load(l)).count();
                let explicit_checks = text.lines().filter(|l| l.contains("icmp ugt")).count();
                let within_guard = offset + LOADS[j].1 <= 2 << 30;
                let label = format!("{} at {offset}, explicit={explicit}", LOADS[j].0);
                if faults_here && within_guard {
                    assert_eq!((faulting, explicit_checks), (1, 0), "{label}");
                } else {
                    assert_eq!((faulting, explicit_checks), (0, 1), "{label}");
                }
            }
        }
        assert_eq!(
            checks_per_function(&engine, &bytes)[1..],
            vec![1; functions - 1][..]
        );
    }
}

/// Memories alive at once in each round. The other targets' tests run
/// under qemu-user, whose own page tables grow with the address space a
/// process maps (tens of megabytes per reservation), so fewer there.
const LIVE: u32 = if cfg!(target_arch = "x86_64") { 64 } else { 4 };

/// Many memories alive at once, each its own reservation: each faults at
/// its own end, and dropping them gives the address space back (on
/// x86-64 the loop runs more rounds than any machine could hold
/// reservations for if they leaked: 64 rounds of 64 memories of 6 GiB is
/// 24 TiB).
#[test]
fn many_live_memories_each_fault_at_their_own_end() {
    let bytes = wat::parse_str(
        r#"(module (memory (export "mem") 1)
        (func (export "at") (param i32) (result i32) (i32.load (local.get 0))))"#,
    )
    .expect("wat");
    let engine = Engine::default();
    let module = Module::new(&engine, &bytes).expect("compiles");
    for round in 0..64u32 {
        let mut live = Vec::new();
        for i in 0..LIVE {
            let mut store = Store::new(&engine, ());
            let instance =
                Instance::new(&mut store, &module, &Linker::new(&engine)).expect("instantiates");
            let memory = instance.get_memory(&store, "mem").expect("memory");
            memory
                .write(&mut store, 65_532, &(round * LIVE + i).to_le_bytes())
                .expect("write");
            live.push((store, instance));
        }
        for (i, (store, instance)) in live.iter_mut().enumerate() {
            let read = instance
                .call(store, "at", &[Value::I32(65_532)], GAS)
                .expect("call");
            assert!(
                matches!(&read, Outcome::Success { results, .. }
                    if results[..] == [Value::I32((round * LIVE + i as u32) as i32)]),
                "{read:?}"
            );
            let past = instance
                .call(store, "at", &[Value::I32(65_533)], GAS)
                .expect("call");
            assert!(
                matches!(
                    past,
                    Outcome::Trap {
                        kind: TrapKind::MemoryOutOfBounds,
                        ..
                    }
                ),
                "{past:?}"
            );
        }
    }
}

/// A dropped memory's reservation serves later memories (`docs/vm.md`,
/// "Faulting loads"): each must start as a fresh one, zero and
/// accessible only up to its own size, whatever the last user grew and
/// wrote.
#[test]
fn a_reused_reservation_starts_zero_and_faults_at_its_new_end() {
    // A reservation reused by memories of different sizes in turn: each
    // must find every page the one before used zero and inaccessible.
    for max in [2, 4, 2, 4] {
        reuse_rounds(max);
    }
}

/// Rounds of a memory of one page that grows to `max` and is filled
/// before it is dropped; each next one must start fresh.
fn reuse_rounds(max: i32) {
    let bytes = wat::parse_str(format!(
        r#"(module (memory (export "mem") 1 {max})
        (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
        (func (export "at") (param i32) (result i64) (i64.load (local.get 0))))"#
    ))
    .expect("wat");
    let engine = Engine::default();
    let module = Module::new(&engine, &bytes).expect("compiles");
    let call = |store: &mut Store<()>, instance: &Instance, name: &str, arg: i32| match instance
        .call(store, name, &[Value::I32(arg)], GAS)
        .expect("call")
    {
        Outcome::Success { results, .. } => Some(results[0]),
        Outcome::Trap { kind, .. } => {
            assert_eq!(kind, TrapKind::MemoryOutOfBounds);
            None
        }
    };
    for round in 0..32 {
        let mut store = Store::new(&engine, ());
        let instance =
            Instance::new(&mut store, &module, &Linker::new(&engine)).expect("instantiates");
        // Fresh: one zero page, nothing after it.
        for page in 0..4 {
            let at = page * 65_536 + 8;
            let want = (page == 0).then_some(Value::I64(0));
            assert_eq!(
                call(&mut store, &instance, "at", at),
                want,
                "max {max}, round {round}"
            );
        }
        // Grown to its maximum: all zero, then filled for the next user.
        assert_eq!(
            call(&mut store, &instance, "grow", max - 1),
            Some(Value::I32(1))
        );
        let memory = instance.get_memory(&store, "mem").expect("memory");
        assert!(memory.data(&store).expect("data").iter().all(|&b| b == 0));
        memory.data_mut(&mut store).expect("data").fill(0xa5);
        assert_eq!(
            call(&mut store, &instance, "at", (max - 1) * 65_536 + 8),
            Some(Value::I64(0xa5a5_a5a5_a5a5_a5a5u64 as i64))
        );
    }
}

/// One store per export: `(name, size in bytes, Wasm of the stored value)`.
/// The float values are reinterpreted bits, which keep every bit.
const STORES: [(&str, u64, &str); 7] = [
    (
        "i32",
        4,
        "(i32.store offset=OFF (local.get 0) (i32.const 0x0a0b0c0d))",
    ),
    (
        "i64",
        8,
        "(i64.store offset=OFF (local.get 0) (i64.const 0x0102030405060708))",
    ),
    (
        "f32",
        4,
        "(f32.store offset=OFF (local.get 0) (f32.reinterpret_i32 (i32.const 0x11223344)))",
    ),
    (
        "f64",
        8,
        "(f64.store offset=OFF (local.get 0) (f64.reinterpret_i64 (i64.const 0x1122334455667788)))",
    ),
    (
        "8",
        1,
        "(i32.store8 offset=OFF (local.get 0) (i32.const 0x99))",
    ),
    (
        "16",
        2,
        "(i64.store16 offset=OFF (local.get 0) (i64.const 0xaabb))",
    ),
    (
        "32",
        4,
        "(i64.store32 offset=OFF (local.get 0) (i64.const 0xccddeeff))",
    ),
];

/// The bytes each store of [`STORES`] writes, little-endian.
fn stored_bytes(name: &str) -> Vec<u8> {
    match name {
        "i32" => 0x0a0b_0c0du32.to_le_bytes().to_vec(),
        "i64" => 0x0102_0304_0506_0708u64.to_le_bytes().to_vec(),
        "f32" => 0x1122_3344u32.to_le_bytes().to_vec(),
        "f64" => 0x1122_3344_5566_7788u64.to_le_bytes().to_vec(),
        "8" => vec![0x99],
        "16" => 0xaabbu16.to_le_bytes().to_vec(),
        "32" => 0xccdd_eeffu32.to_le_bytes().to_vec(),
        other => panic!("unknown store {other}"),
    }
}

/// Stores of every width at every offset around the end of the memory,
/// under every way of checking them: a store in bounds writes exactly its
/// bytes, one that is not (also one that straddles the end by a single
/// byte) traps and leaves the whole memory as it was, and every way uses
/// the same gas. Where stores fault (x86-64) this is the rule's premise:
/// a faulting store writes nothing.
#[test]
fn a_store_that_traps_writes_nothing() {
    let bytes = module_of("1 2", &STORES, "(param i32)");
    // Where stores fault, those within the guard have no explicit check.
    let clif = Module::translated_clif(&Engine::default(), &bytes).expect("compiles");
    let faulting_stores = clif
        .iter()
        .flat_map(|f| f.lines())
        .filter(|l| l.contains("store") && l.contains(" user2 "))
        .count();
    let within_guard = OFFSETS.iter().filter(|&&o| o + 8 <= 2 << 30).count();
    let expected = if cfg!(target_arch = "x86_64") {
        within_guard * STORES.len()
    } else {
        0
    };
    assert_eq!(faulting_stores, expected);
    let mut runs: Vec<(String, Store<()>, Instance)> = Vec::new();
    for explicit in [false, true] {
        for metering in [true, false] {
            let mut config = EngineConfig::default();
            config.explicit_bounds_checks = explicit;
            config.metering = metering;
            let engine = Engine::new(config).expect("engine");
            let (store, instance) = common::instantiate(&engine, &bytes);
            runs.push((
                format!("explicit={explicit} metering={metering}"),
                store,
                instance,
            ));
        }
    }
    for pages in [1u64, 2] {
        let len = pages * PAGE;
        let before: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        for offset in OFFSETS {
            for (name, size, _) in STORES {
                let export = export_name(name, offset);
                for addr in addresses(len, size, offset) {
                    let start = u64::from(addr) + offset;
                    let mut want = before.clone();
                    let fits = start + size <= len;
                    if fits {
                        want[start as usize..(start + size) as usize]
                            .copy_from_slice(&stored_bytes(name));
                    }
                    let mut gas = Vec::new();
                    for (label, store, instance) in &mut runs {
                        let memory = instance.get_memory(store, "mem").expect("memory");
                        memory.write(store, 0, &before).expect("write");
                        let outcome = instance
                            .call(store, &export, &[Value::I32(addr as i32)], GAS)
                            .expect("call");
                        match &outcome {
                            Outcome::Success { .. } => {
                                assert!(fits, "{label} {export} at {addr:#x} wrote past the end")
                            }
                            Outcome::Trap { kind, .. } => {
                                assert!(!fits, "{label} {export} at {addr:#x}: {kind:?}");
                                assert_eq!(*kind, TrapKind::MemoryOutOfBounds);
                            }
                        }
                        assert!(
                            memory.data(store).expect("data") == &want[..],
                            "{label} {export} at {addr:#x}, {pages} pages: memory differs"
                        );
                        gas.push(outcome.gas_used());
                    }
                    assert_eq!(gas[0], gas[2], "{export} at {addr:#x}");
                }
            }
        }
        for (_, store, instance) in &mut runs {
            instance
                .call(store, "grow", &[Value::I32(1)], GAS)
                .expect("grows");
        }
    }
}
