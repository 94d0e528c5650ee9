//! The compiler checked against a reference interpreter. Modules generated
//! by wasm-smith, which may import a few host functions (`HOST_IMPORTS`),
//! are validated and instrumented exactly as `Module::new` does; then
//! detvm's native code and wasmi, interpreting the very same instrumented
//! bytes, call every export. Results, traps, gas used and the final
//! memories, globals and tables must agree exactly.
//!
//! Gas and the stack bound are ordinary Wasm in the instrumented module, so
//! the interpreter computes them by the plain meaning of the bytecode. Every
//! shortcut the compiler takes with them (counters in registers, charges
//! matched into compare-and-branch, counted loops charged up front, merged
//! bounds checks) must leave the same numbers and the same memory behind,
//! also when a call runs out of gas or stack halfway.

use std::sync::atomic::{AtomicUsize, Ordering};

use detvm_metering::{Config, abi, instrument, validate};
use detvm_vm::{Engine, EngineConfig, Extern, Instance, Linker, Module, Outcome, Store, Value};
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// Generous enough that most calls finish, small enough that infinite
/// loops end quickly in the interpreter.
const GAS_LIMITS: [u64; 4] = [50_000, 5_000, 500, 0];

fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        // Both engines then see canonical NaNs only, and memory, globals and
        // results can be compared bit for bit. detvm's own canonicalisation
        // is checked against fixed bits in `ops_nan.rs`.
        canonicalize_nans: true,
        available_imports: Some(wat::parse_str(HOST_IMPORTS).expect("valid text")),
        max_imports: 5,
        min_funcs: 2,
        ..detvm_fixtures::smith::profile_config()
    }
}

/// The host functions generated modules may import; both engines define
/// them alike (`define_host` and `Reference::new`):
/// - `charge(n)` charges `n mod 4096` gas, trapping `out_of_gas` if less
///   is left;
/// - `gas()` returns the gas left, so the counter compiled code keeps in a
///   register must be in place whenever the host runs;
/// - `mix(a, b, c, d)` returns a function of all its argument bits, as two
///   results;
/// - `poke(addr, byte)` writes one byte of the caller's memory, trapping
///   `memory_out_of_bounds` outside it;
/// - `fail(n)` traps with a host message when `n` is odd.
const HOST_IMPORTS: &str = r#"(module
  (import "env" "charge" (func (param i64)))
  (import "env" "gas" (func (result i64)))
  (import "env" "mix" (func (param i32 i64 f32 f64) (result i64 i32)))
  (import "env" "poke" (func (param i32 i32)))
  (import "env" "fail" (func (param i32))))"#;

/// The gas `charge(n)` takes.
fn charge_amount(n: i64) -> u64 {
    n as u64 % 4096
}

/// `mix`'s results.
fn mix(a: i32, b: i64, c: u32, d: u64) -> (i64, i32) {
    let wide = (b.wrapping_mul(31) ^ i64::from(a)).rotate_left(7) ^ d as i64;
    (wide.wrapping_add(i64::from(c)), a ^ c as i32 ^ 0x5555)
}

/// Host calls made by detvm over the whole run.
static HOST_CALLS: AtomicUsize = AtomicUsize::new(0);

fn define_host(linker: &mut Linker<()>) {
    use detvm_vm::{HostError, ValType as T};
    let count = || HOST_CALLS.fetch_add(1, Ordering::Relaxed);
    linker.func("env", "charge", &[T::I64], &[], move |caller, args| {
        count();
        caller.charge_gas(charge_amount(args[0].as_i64().expect("i64")))?;
        Ok(vec![])
    });
    linker.func("env", "gas", &[], &[T::I64], move |caller, _| {
        count();
        Ok(vec![Value::I64(caller.gas_left() as i64)])
    });
    linker.func(
        "env",
        "mix",
        &[T::I32, T::I64, T::F32, T::F64],
        &[T::I64, T::I32],
        move |_, args| {
            count();
            let (Value::I32(a), Value::I64(b), Value::F32(c), Value::F64(d)) =
                (args[0], args[1], args[2], args[3])
            else {
                unreachable!("the linker checks the types")
            };
            let (wide, narrow) = mix(a, b, c, d);
            Ok(vec![Value::I64(wide), Value::I32(narrow)])
        },
    );
    linker.func(
        "env",
        "poke",
        &[T::I32, T::I32],
        &[],
        move |caller, args| {
            count();
            let (Value::I32(addr), Value::I32(byte)) = (args[0], args[1]) else {
                unreachable!("the linker checks the types")
            };
            caller.memory_write(u64::from(addr as u32), &[byte as u8])?;
            Ok(vec![])
        },
    );
    linker.func("env", "fail", &[T::I32], &[], move |_, args| {
        count();
        match args[0].as_i32().expect("i32") & 1 {
            0 => Ok(vec![]),
            _ => Err(HostError::message("odd")),
        }
    });
}

/// How a call ended, in a form both engines can be compared by.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ended {
    /// Results by bits, references by null-ness.
    Returned(Vec<String>),
    /// The trap's stable name.
    Trapped(&'static str),
}

/// One call's outcome and the gas it used.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    ended: Ended,
    gas_used: u64,
}

/// References compare by kind and null-ness: handles differ between engines.
fn ref_key(func: bool, null: bool) -> String {
    let kind = if func { "funcref" } else { "externref" };
    format!("{kind}:{}", if null { "null" } else { "some" })
}

fn detvm_key(value: &Value) -> String {
    match value {
        Value::I32(v) => format!("i32:{v}"),
        Value::I64(v) => format!("i64:{v}"),
        Value::F32(bits) => format!("f32:{bits:#x}"),
        Value::F64(bits) => format!("f64:{bits:#x}"),
        Value::FuncRef(r) => ref_key(true, r.is_none()),
        Value::ExternRef(r) => ref_key(false, r.is_none()),
    }
}

fn wasmi_key(value: &wasmi::Val) -> String {
    match value {
        wasmi::Val::I32(v) => format!("i32:{v}"),
        wasmi::Val::I64(v) => format!("i64:{v}"),
        wasmi::Val::F32(v) => format!("f32:{:#x}", v.to_bits()),
        wasmi::Val::F64(v) => format!("f64:{:#x}", v.to_bits()),
        wasmi::Val::FuncRef(r) => ref_key(true, r.is_null()),
        wasmi::Val::ExternRef(r) => ref_key(false, r.is_null()),
        wasmi::Val::V128(_) => unreachable!("the profile has no v128"),
    }
}

/// `value` for the interpreter: the same bits, or a null reference (the
/// only references passed in).
fn wasmi_arg(value: &Value) -> wasmi::Val {
    match *value {
        Value::I32(v) => wasmi::Val::I32(v),
        Value::I64(v) => wasmi::Val::I64(v),
        Value::F32(bits) => wasmi::Val::F32(wasmi::F32::from_bits(bits)),
        Value::F64(bits) => wasmi::Val::F64(wasmi::F64::from_bits(bits)),
        Value::FuncRef(_) => wasmi::Val::FuncRef(wasmi::Nullable::Null),
        Value::ExternRef(_) => wasmi::Val::ExternRef(wasmi::Nullable::Null),
    }
}

/// Arguments from three pools: small values (the edges of loops and
/// divisions), addresses just below a 64 KiB page boundary (the edges of
/// memory, where bounds checks decide), and arbitrary bits.
fn arg_for(ty: detvm_vm::ValType, u: &mut arbitrary::Unstructured<'_>) -> Value {
    use detvm_vm::ValType;
    let pool: u8 = u.int_in_range(0..=2).unwrap_or(0);
    let wide: u64 = u.arbitrary().unwrap_or(0);
    let bits = match pool {
        0 => wide % 17,
        1 => (1 + wide % 16) * 65_536 - (wide >> 8) % 24,
        _ => wide,
    };
    let exact = pool < 2;
    match ty {
        ValType::I32 => Value::I32(bits as i32),
        ValType::I64 => Value::I64(bits as i64),
        ValType::F32 => Value::F32(if exact {
            (bits as f32).to_bits()
        } else {
            bits as u32
        }),
        ValType::F64 => Value::F64(if exact { (bits as f64).to_bits() } else { bits }),
        ValType::FuncRef => Value::FuncRef(None),
        ValType::ExternRef => Value::ExternRef(None),
    }
}

/// What the interpreter's host functions share: which import ended a call
/// (a reserved one, or `fail`), the gas counter `charge` and `gas` use, and
/// the name under which the module exports its memory, for `poke`.
#[derive(Debug, Default)]
struct Reserved {
    fired: Option<&'static str>,
    gas_left: Option<wasmi::Global>,
    memory: Option<String>,
    /// The memory itself, once instantiated: an imported function the
    /// module re-exports can be called from outside, where wasmi's caller
    /// has no instance to look the export up in.
    instantiated_memory: Option<wasmi::Memory>,
}

/// wasmi running the instrumented module, with the `detvm` imports as the
/// metering documents define them.
struct Reference {
    store: wasmi::Store<Reserved>,
    instance: wasmi::Instance,
    gas_left: wasmi::Global,
    stack_left: wasmi::Global,
    stack_limit: u64,
}

/// The interpreter's own limits are far beyond the instrumented stack
/// bound, so that bound, not wasmi's, ends deep recursion.
fn reference_engine() -> wasmi::Engine {
    let mut config = wasmi::Config::default();
    config.set_max_recursion_depth(100_000);
    config.set_max_stack_height(256 << 20);
    wasmi::Engine::new(&config)
}

impl Reference {
    /// Instantiates; the start function runs with `start_gas`.
    fn new(
        engine: &wasmi::Engine,
        instrumented: &[u8],
        start_gas: u64,
        stack_limit: u64,
    ) -> Result<Self, Ended> {
        let module = wasmi::Module::new(engine, instrumented).expect("wasmi accepts it");
        let mut store = wasmi::Store::new(engine, Reserved::default());
        let mut linker = wasmi::Linker::<Reserved>::new(engine);
        let var_i64 = |store: &mut wasmi::Store<Reserved>, value: u64| {
            wasmi::Global::new(store, wasmi::Val::I64(value as i64), wasmi::Mutability::Var)
        };
        let gas_left = var_i64(&mut store, start_gas);
        let stack_left = var_i64(&mut store, stack_limit);
        store.data_mut().gas_left = Some(gas_left);
        store.data_mut().memory = module
            .exports()
            .find(|export| export.ty().memory().is_some())
            .map(|export| export.name().to_owned());
        define_reference_host(&mut linker);
        for (name, trap) in [
            (abi::OUT_OF_GAS, "out_of_gas"),
            (abi::STACK_OVERFLOW, "stack_overflow"),
        ] {
            linker
                .func_wrap(
                    abi::MODULE,
                    name,
                    move |mut caller: wasmi::Caller<'_, Reserved>| {
                        caller.data_mut().fired = Some(trap);
                        Err::<(), _>(wasmi::Error::new(trap))
                    },
                )
                .expect("defined once");
        }
        linker.define(abi::MODULE, abi::GAS_LEFT, gas_left).unwrap();
        linker
            .define(abi::MODULE, abi::STACK_LEFT, stack_left)
            .unwrap();
        match linker.instantiate_and_start(&mut store, &module) {
            Ok(instance) => Ok(Self {
                instance: {
                    let memory = store.data().memory.clone();
                    store.data_mut().instantiated_memory =
                        memory.and_then(|name| instance.get_memory(&store, &name));
                    instance
                },
                store,
                gas_left,
                stack_left,
                stack_limit,
            }),
            Err(error) => Err(Ended::Trapped(trap_name(&error, store.data()))),
        }
    }

    fn call(&mut self, name: &str, args: &[wasmi::Val], gas_limit: u64) -> Call {
        let func = self.instance.get_func(&self.store, name).expect("export");
        let mut results: Vec<wasmi::Val> = func
            .ty(&self.store)
            .results()
            .iter()
            .map(|ty| wasmi::Val::default_for_ty(*ty))
            .collect();
        self.store.data_mut().fired = None;
        self.gas_left
            .set(&mut self.store, wasmi::Val::I64(gas_limit as i64))
            .unwrap();
        self.stack_left
            .set(&mut self.store, wasmi::Val::I64(self.stack_limit as i64))
            .unwrap();
        let ended = match func.call(&mut self.store, args, &mut results) {
            Ok(()) => Ended::Returned(results.iter().map(wasmi_key).collect()),
            Err(error) => Ended::Trapped(trap_name(&error, self.store.data())),
        };
        let gas_used = if ended == Ended::Trapped("out_of_gas") {
            gas_limit
        } else {
            match self.gas_left.get(&self.store) {
                wasmi::Val::I64(left) => gas_limit - left as u64,
                other => panic!("gas_left is {other:?}"),
            }
        };
        Call { ended, gas_used }
    }
}

/// `HOST_IMPORTS` for the interpreter, with the semantics `define_host`
/// gives them in detvm.
fn define_reference_host(linker: &mut wasmi::Linker<Reserved>) {
    type Caller<'a> = wasmi::Caller<'a, Reserved>;
    fn gas_global(caller: &Caller<'_>) -> wasmi::Global {
        caller.data().gas_left.expect("set before instantiation")
    }
    fn trap(caller: &mut Caller<'_>, name: &'static str) -> wasmi::Error {
        caller.data_mut().fired = Some(name);
        wasmi::Error::new(name)
    }
    linker
        .func_wrap("env", "charge", |mut caller: Caller<'_>, n: i64| {
            let global = gas_global(&caller);
            let wasmi::Val::I64(left) = global.get(&caller) else {
                unreachable!("an i64 global")
            };
            let amount = charge_amount(n);
            let (left, result) = match (left as u64).checked_sub(amount) {
                Some(left) => (left, Ok(())),
                None => (0, Err(trap(&mut caller, "out_of_gas"))),
            };
            global.set(&mut caller, wasmi::Val::I64(left as i64))?;
            result
        })
        .unwrap()
        .func_wrap("env", "gas", |caller: Caller<'_>| -> i64 {
            match gas_global(&caller).get(&caller) {
                wasmi::Val::I64(left) => left,
                _ => unreachable!("an i64 global"),
            }
        })
        .unwrap()
        .func_wrap(
            "env",
            "mix",
            |a: i32, b: i64, c: wasmi::F32, d: wasmi::F64| -> (i64, i32) {
                mix(a, b, c.to_bits(), d.to_bits())
            },
        )
        .unwrap()
        .func_wrap(
            "env",
            "poke",
            |mut caller: Caller<'_>, addr: i32, byte: i32| -> Result<(), wasmi::Error> {
                let memory = caller
                    .data()
                    .memory
                    .clone()
                    .and_then(|name| caller.get_export(&name))
                    .and_then(wasmi::Extern::into_memory)
                    .or(caller.data().instantiated_memory);
                let written = memory.is_some_and(|memory| {
                    let data = memory.data_mut(&mut caller);
                    match data.get_mut(addr as u32 as usize) {
                        Some(slot) => {
                            *slot = byte as u8;
                            true
                        }
                        None => false,
                    }
                });
                match written {
                    true => Ok(()),
                    false => Err(trap(&mut caller, "memory_out_of_bounds")),
                }
            },
        )
        .unwrap()
        .func_wrap(
            "env",
            "fail",
            |mut caller: Caller<'_>, n: i32| -> Result<(), wasmi::Error> {
                match n & 1 {
                    0 => Ok(()),
                    _ => Err(trap(&mut caller, "host")),
                }
            },
        )
        .unwrap();
}

fn trap_name(error: &wasmi::Error, reserved: &Reserved) -> &'static str {
    use wasmi::TrapCode as T;
    use wasmi::errors::{ErrorKind, InstantiationError};
    if let Some(name) = reserved.fired {
        return name;
    }
    // An active element segment beyond its table is an instantiation error
    // in wasmi, and a trap in the specification and in detvm.
    if let ErrorKind::Instantiation(InstantiationError::ElementSegmentDoesNotFit { .. }) =
        error.kind()
    {
        return "table_out_of_bounds";
    }
    match error.as_trap_code() {
        Some(T::UnreachableCodeReached) => "unreachable",
        Some(T::MemoryOutOfBounds) => "memory_out_of_bounds",
        Some(T::TableOutOfBounds) => "table_out_of_bounds",
        Some(T::IndirectCallToNull) => "uninitialized_element",
        Some(T::IntegerDivisionByZero) => "integer_divide_by_zero",
        Some(T::IntegerOverflow) => "integer_overflow",
        Some(T::BadConversionToInteger) => "invalid_conversion_to_integer",
        Some(T::BadSignature) => "indirect_call_type_mismatch",
        other => panic!("the reference stopped for its own reasons: {other:?}: {error}"),
    }
}

/// Counts over the whole run, so the test can insist it compared enough.
static MODULES_COMPARED: AtomicUsize = AtomicUsize::new(0);
static CALLS_COMPARED: AtomicUsize = AtomicUsize::new(0);
static CALLS_RETURNED: AtomicUsize = AtomicUsize::new(0);
static CALLS_OUT_OF_GAS: AtomicUsize = AtomicUsize::new(0);
static CALLS_OTHER_TRAPS: AtomicUsize = AtomicUsize::new(0);

fn check(
    data: &[u8],
    engine: &Engine,
    reference_engine: &wasmi::Engine,
) -> Result<(), TestCaseError> {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(module) = wasm_smith::Module::new(smith_config(), &mut u) else {
        return Ok(());
    };
    let bytes = module.to_bytes();
    let config = engine.config();
    // What `Module::new` does, so the interpreter runs the same bytes.
    let mut validation = Config::with_limits(config.limits.clone());
    validation.imports = config.imports.clone();
    let Ok(info) = validate(&bytes, &validation) else {
        prop_assert!(Module::new(engine, &bytes).is_err());
        return Ok(());
    };
    let instrumented = instrument(&bytes, &info, &config.schedule, &config.stack)
        .map_err(|error| TestCaseError::fail(format!("instrument: {error}")))?;
    let module = Module::new(engine, &bytes)
        .map_err(|error| TestCaseError::fail(format!("detvm rejects a valid module: {error}")))?;

    let mut store = Store::new(engine, ());
    let mut linker = Linker::new(engine);
    define_host(&mut linker);
    let detvm = Instance::new(&mut store, &module, &linker);
    let reference = Reference::new(
        reference_engine,
        &instrumented.bytes,
        config.start_gas_limit,
        config.stack.limit,
    );
    let (detvm, mut reference) = match (detvm, reference) {
        (Ok(detvm), Ok(reference)) => (detvm, reference),
        (Err(error), Err(ended)) => {
            prop_assert_eq!(
                error.trap_kind().map(|k| k.name()),
                Some(ended_trap(&ended))
            );
            return Ok(());
        }
        (detvm, reference) => {
            return Err(TestCaseError::fail(format!(
                "instantiation differs: detvm {:?}, reference {:?}",
                detvm.err(),
                reference.err()
            )));
        }
    };

    let exports = detvm.exports(&store).expect("same store");
    for (round, gas_limit) in GAS_LIMITS.into_iter().enumerate() {
        for (name, item) in &exports {
            let Extern::Func(func) = item else { continue };
            let ty = func.ty(&store).expect("same store");
            let args: Vec<Value> = ty.params().iter().map(|&t| arg_for(t, &mut u)).collect();
            let wasmi_args: Vec<wasmi::Val> = args.iter().map(wasmi_arg).collect();
            let ours = match func.call(&mut store, &args, gas_limit) {
                Ok(Outcome::Success { results, gas_used }) => Call {
                    ended: Ended::Returned(results.iter().map(detvm_key).collect()),
                    gas_used,
                },
                Ok(Outcome::Trap { kind, gas_used, .. }) => Call {
                    ended: Ended::Trapped(kind.name()),
                    gas_used,
                },
                Err(error) => {
                    return Err(TestCaseError::fail(format!(
                        "{name}: engine error: {error}"
                    )));
                }
            };
            let theirs = reference.call(name, &wasmi_args, gas_limit);
            prop_assert_eq!(
                &ours,
                &theirs,
                "call {} of `{}` with {:?}, gas limit {}",
                round,
                name,
                args,
                gas_limit
            );
            CALLS_COMPARED.fetch_add(1, Ordering::Relaxed);
            match ours.ended {
                Ended::Returned(_) => CALLS_RETURNED.fetch_add(1, Ordering::Relaxed),
                Ended::Trapped("out_of_gas") => CALLS_OUT_OF_GAS.fetch_add(1, Ordering::Relaxed),
                Ended::Trapped(_) => CALLS_OTHER_TRAPS.fetch_add(1, Ordering::Relaxed),
            };
            compare_state(&store, &exports, &reference)
                .map_err(|what| TestCaseError::fail(format!("after `{name}`: {what}")))?;
        }
    }
    MODULES_COMPARED.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn ended_trap(ended: &Ended) -> &'static str {
    match ended {
        Ended::Trapped(name) => name,
        Ended::Returned(_) => "returned",
    }
}

/// Every exported memory byte for byte, global by bits and table element
/// by null-ness must be the same in both engines.
fn compare_state(
    store: &Store<()>,
    exports: &[(String, Extern)],
    reference: &Reference,
) -> Result<(), String> {
    for (name, item) in exports {
        let theirs = reference.instance.get_export(&reference.store, name);
        match (item, theirs) {
            (Extern::Func(_), Some(wasmi::Extern::Func(_))) => {}
            (Extern::Memory(memory), Some(wasmi::Extern::Memory(other))) => {
                let ours = memory.data(store).expect("same store");
                let theirs = other.data(&reference.store);
                if ours != theirs {
                    let first = ours.iter().zip(theirs).position(|(a, b)| a != b);
                    return Err(format!(
                        "memory `{name}` differs: {} vs {} bytes, first difference at {first:?}",
                        ours.len(),
                        theirs.len()
                    ));
                }
            }
            (Extern::Global(global), Some(wasmi::Extern::Global(other))) => {
                let ours = detvm_key(&global.get(store).expect("same store"));
                let theirs = wasmi_key(&other.get(&reference.store));
                if ours != theirs {
                    return Err(format!("global `{name}`: {ours} vs {theirs}"));
                }
            }
            (Extern::Table(table), Some(wasmi::Extern::Table(other))) => {
                let size = table.size(store).expect("same store");
                if size != other.size(&reference.store) {
                    return Err(format!("table `{name}` size differs"));
                }
                for index in 0..size {
                    let ours = detvm_key(&table.get(store, index).expect("in bounds"));
                    let theirs = other.get(&reference.store, index).expect("in bounds");
                    let theirs = format!(
                        "{}:{}",
                        if theirs.is_func() {
                            "funcref"
                        } else {
                            "externref"
                        },
                        if theirs.is_null() { "null" } else { "some" }
                    );
                    if ours != theirs {
                        return Err(format!("table `{name}`[{index}]: {ours} vs {theirs}"));
                    }
                }
            }
            (ours, theirs) => return Err(format!("export `{name}`: {ours:?} vs {theirs:?}")),
        }
    }
    Ok(())
}

#[test]
fn generated_modules_agree_with_the_reference_interpreter() {
    // Deep Wasm recursion runs on this thread in both engines.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(compare_generated_modules)
        .expect("spawn")
        .join()
        .expect("the comparison passed");
}

fn compare_generated_modules() {
    let reference_engine = reference_engine();
    // Every function through the register strategy where the engine would
    // choose it, then every function through the slot strategy
    // (`docs/vm.md`, two translation strategies): both must agree with the
    // interpreter.
    for slot_strategy_only in [false, true] {
        let mut config = EngineConfig::spec();
        config.slot_strategy_only = slot_strategy_only;
        let engine = Engine::new(config).expect("engine");
        let before = counts();
        // A fixed seed: the same modules on every run and every
        // architecture, so a failure reproduces and the counts below are
        // stable.
        let config = ProptestConfig {
            cases: 1000,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
        let mut runner = TestRunner::new_with_rng(config, rng);
        let strategy = proptest::collection::vec(any::<u8>(), 512..16_384);
        if let Err(error) = runner.run(&strategy, |data| check(&data, &engine, &reference_engine)) {
            panic!("slot strategy only: {slot_strategy_only}: {error}");
        }
        let after = counts();
        let [
            modules,
            calls,
            returned,
            out_of_gas,
            other_traps,
            host_calls,
        ] = std::array::from_fn(|i| after[i] - before[i]);
        eprintln!(
            "slot strategy only: {slot_strategy_only}: compared {modules} modules, {calls} \
             calls: {returned} returned, {out_of_gas} out of gas, {other_traps} other traps; \
             {host_calls} host calls"
        );
        // Enough of each kind of ending that the comparison means something.
        assert!(modules >= 800, "only {modules} modules compared");
        assert!(
            returned >= 1000 && out_of_gas >= 1000 && other_traps >= 500,
            "{returned} returned, {out_of_gas} out of gas, {other_traps} other traps"
        );
        assert!(host_calls >= 10_000, "only {host_calls} host calls");
    }
}

/// The comparison counters so far: modules, calls, returned, out of gas,
/// other traps, host calls.
fn counts() -> [usize; 6] {
    [
        &MODULES_COMPARED,
        &CALLS_COMPARED,
        &CALLS_RETURNED,
        &CALLS_OUT_OF_GAS,
        &CALLS_OTHER_TRAPS,
        &HOST_CALLS,
    ]
    .map(|counter| counter.load(Ordering::Relaxed))
}
