//! Generated modules: [`MODULES`] modules made by wasm-smith inside the
//! determinism profile from fixed seeds (a seed's bytes come from
//! [`detvm_fixtures::Lcg`], so every machine generates the same modules),
//! plus the realistic contract-like modules of `detvm-fixtures`. Each goes
//! through the whole pipeline; every exported function is called with
//! arguments drawn from a fixed sequence, at each of [`GAS_LIMITS`], on one
//! instance (so later calls see earlier calls' memory). A case's transcript
//! holds each call's results (exact bits) or trap, its gas, and afterwards
//! the SHA-256 of every exported memory, every exported global and every
//! exported table's size and null slots. A module the pipeline rejects is
//! a case too: its error kind.

use std::fmt::Write as _;

use detvm_fixtures::Lcg;
use detvm_vm::{Engine, EngineConfig, Extern, Instance, Linker, Module, Outcome, Store, Value};
use sha2::{Digest, Sha256};

use crate::{Case, EngineError, Error, hex, render_value};

/// Generated modules in the corpus.
pub const MODULES: u64 = 1_000;

/// Gas limits each export is called with: most calls finish under the
/// first, many run out under the second.
pub const GAS_LIMITS: [u64; 2] = [200_000, 2_000];

/// Bytes of generator input per module.
const SEED_BYTES: usize = 16_384;

/// wasm-smith's settings: the profile, no imports, small sizes, NaNs left
/// as the module computes them (the engine's canonicalisation is part of
/// what is compared).
fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        max_imports: 0,
        min_funcs: 4,
        max_funcs: 24,
        min_exports: 4,
        max_instructions: 400,
        ..detvm_fixtures::smith::profile_config()
    }
}

/// The engine generated modules run on: the `spec` limits, metering on.
pub fn engine() -> Result<Engine, Error> {
    Engine::new(EngineConfig::spec()).map_err(|e| Error::Engine(EngineError::Vm(e)))
}

/// An argument of type `ty` from `rng`: small values, values near a page
/// boundary, or arbitrary bits.
fn argument(ty: detvm_vm::ValType, rng: &mut Lcg) -> Value {
    use detvm_vm::ValType;
    let wide = (u64::from(rng.next_u32()) << 32) | u64::from(rng.next_u32());
    let bits = match rng.below(3) {
        0 => wide % 17,
        1 => (1 + wide % 16) * 65_536 - (wide >> 8) % 24,
        _ => wide,
    };
    match ty {
        ValType::I32 => Value::I32(bits as i32),
        ValType::I64 => Value::I64(bits as i64),
        ValType::F32 => Value::F32(bits as u32),
        ValType::F64 => Value::F64(bits),
        ValType::FuncRef => Value::FuncRef(None),
        ValType::ExternRef => Value::ExternRef(None),
    }
}

/// The generated module of `seed`, or `None` if the generator declines.
pub fn module_bytes(seed: u64) -> Option<Vec<u8>> {
    let mut rng = Lcg::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xd1b5);
    let input: Vec<u8> = (0..SEED_BYTES).map(|_| rng.next_u32() as u8).collect();
    let mut u = arbitrary::Unstructured::new(&input);
    wasm_smith::Module::new(smith_config(), &mut u)
        .ok()
        .map(|m| m.to_bytes())
}

/// One case per generated module, then per realistic module.
pub fn cases(engine: &Engine) -> Result<Vec<Case>, Error> {
    let mut out = Vec::new();
    for seed in 0..MODULES {
        let transcript = match module_bytes(seed) {
            Some(bytes) => run_module(engine, &bytes, seed),
            None => "not generated\n".to_owned(),
        };
        out.push(Case::new(format!("smith {seed}"), transcript));
    }
    for size in [1_000usize, 20_000] {
        let bytes = detvm_fixtures::realistic::module(size, 7);
        out.push(Case::new(
            format!("realistic {size}"),
            run_module(engine, &bytes, size as u64),
        ));
    }
    Ok(out)
}

/// The transcript of one module (never fails: whatever happens is
/// written down).
fn run_module(engine: &Engine, bytes: &[u8], seed: u64) -> String {
    let mut out = format!("module {}\n", hex(&Sha256::digest(bytes)));
    let module = match Module::new(engine, bytes) {
        Ok(module) => module,
        Err(e) => {
            let _ = writeln!(out, "rejected {}", e.kind());
            return out;
        }
    };
    let mut store = Store::new(engine, ());
    let instance = match Instance::new(&mut store, &module, &Linker::new(engine)) {
        Ok(instance) => instance,
        Err(e) => {
            let kind = e.trap_kind().map_or("error", |k| k.name());
            let _ = writeln!(out, "instantiation {kind}");
            return out;
        }
    };
    let Ok(exports) = instance.exports(&store) else {
        out.push_str("no exports\n");
        return out;
    };
    let mut rng = Lcg::new(seed ^ 0xa5a5_a5a5);
    for gas in GAS_LIMITS {
        for (name, item) in &exports {
            let Extern::Func(func) = item else { continue };
            let Ok(ty) = func.ty(&store) else { continue };
            let args: Vec<Value> = ty.params().iter().map(|&t| argument(t, &mut rng)).collect();
            let rendered: Vec<String> = args.iter().map(render_value).collect();
            let result = match func.call(&mut store, &args, gas) {
                Ok(Outcome::Success { results, gas_used }) => {
                    let results: Vec<String> = results.iter().map(render_value).collect();
                    format!("ok [{}] gas={gas_used}", results.join(" "))
                }
                Ok(Outcome::Trap { kind, gas_used, .. }) => {
                    format!("trap {} gas={gas_used}", kind.name())
                }
                Err(e) => format!("engine error {}", e.kind()),
            };
            let _ = writeln!(
                out,
                "{name}({}) gas_limit={gas} -> {result}",
                rendered.join(" ")
            );
        }
        write_state(&mut out, &store, &exports);
    }
    out
}

/// Every exported memory (SHA-256), global (value) and table (size and
/// which slots are null).
fn write_state(out: &mut String, store: &Store<()>, exports: &[(String, Extern)]) {
    for (name, item) in exports {
        match item {
            Extern::Memory(memory) => {
                if let Ok(data) = memory.data(store) {
                    let _ = writeln!(
                        out,
                        "memory {name} {} {}",
                        data.len(),
                        hex(&Sha256::digest(data))
                    );
                }
            }
            Extern::Global(global) => {
                if let Ok(value) = global.get(store) {
                    let _ = writeln!(out, "global {name} {}", render_value(&value));
                }
            }
            Extern::Table(table) => {
                let Ok(size) = table.size(store) else {
                    continue;
                };
                let nulls: Vec<String> = (0..size)
                    .filter(|&i| {
                        table.get(store, i).is_ok_and(|v| {
                            matches!(v, Value::FuncRef(None) | Value::ExternRef(None))
                        })
                    })
                    .map(|i| i.to_string())
                    .collect();
                let _ = writeln!(out, "table {name} {size} null [{}]", nulls.join(","));
            }
            Extern::Func(_) => {}
        }
    }
}
