//! The compiler checked against a reference interpreter. Modules generated
//! by wasm-smith inside the determinism profile, which may import a few
//! host functions ([`HOST_IMPORTS`]), are validated and instrumented
//! exactly as `Module::new` does; then detvm's native code and wasmi,
//! interpreting the very same instrumented bytes, call every export.
//! Results, traps, gas used and the final memories, globals and tables
//! must agree exactly.
//!
//! Gas and the stack bound are ordinary Wasm in the instrumented module, so
//! the interpreter computes them by the plain meaning of the bytecode. Every
//! shortcut the compiler takes with them (counters in registers, charges
//! matched into compare-and-branch, counted loops charged up front, merged
//! bounds checks) must leave the same numbers and the same memory behind,
//! also when a call runs out of gas or stack halfway.
//!
//! Deep Wasm recursion runs on the calling thread in both engines: call
//! [`Differential::check`] on a thread of [`STACK_SIZE`] bytes
//! ([`crate::on_big_stack`]).

use detvm_fixtures::Lcg;
use detvm_metering::{Config, abi, instrument, validate};
use detvm_vm::{
    Engine, EngineConfig, Extern, HostError, Instance, Linker, Module, Outcome, Store, ValType,
    Value,
};

/// The native stack a thread running [`Differential::check`] needs.
pub const STACK_SIZE: usize = 256 << 20;

/// The gas limits of the first rounds of calls: generous enough that most
/// calls finish, small enough that infinite loops end quickly in the
/// interpreter, then ever smaller so that calls stop halfway.
pub const GAS_LIMITS: [u64; 4] = [50_000, 5_000, 500, 0];

/// The host functions generated modules may import; both engines define
/// them alike:
/// - `charge(n)` charges `n mod 4096` gas, trapping `out_of_gas` if less
///   is left;
/// - `gas()` returns the gas left, so the counter compiled code keeps in a
///   register must be in place whenever the host runs;
/// - `mix(a, b, c, d)` returns a function of all its argument bits, as two
///   results;
/// - `poke(addr, byte)` writes one byte of the caller's memory, trapping
///   `memory_out_of_bounds` outside it;
/// - `fail(n)` traps with a host message when `n` is odd.
pub const HOST_IMPORTS: &str = r#"(module
  (import "env" "charge" (func (param i64)))
  (import "env" "gas" (func (result i64)))
  (import "env" "mix" (func (param i32 i64 f32 f64) (result i64 i32)))
  (import "env" "poke" (func (param i32 i32)))
  (import "env" "fail" (func (param i32))))"#;

/// The wasm-smith settings: the profile, NaNs canonicalised (both engines
/// then see canonical NaNs only, so memories, globals and results compare
/// bit for bit; detvm's own canonicalisation is checked against fixed bits
/// in `vm/tests/ops_nan.rs`), and the host functions of [`HOST_IMPORTS`].
pub fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        canonicalize_nans: true,
        available_imports: Some(wat::parse_str(HOST_IMPORTS).expect("valid text")),
        max_imports: 5,
        min_funcs: 2,
        ..detvm_fixtures::smith::profile_config()
    }
}

/// What the two engines disagreed on, or why a comparison could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Divergence {
    /// The metering front end rejected a module it had validated.
    #[error("instrumentation failed on a validated module: {0}")]
    Instrument(String),
    /// `Module::new` and the metering front end disagree on a module.
    #[error("the engine and the validator disagree: {0}")]
    Acceptance(String),
    /// The interpreter refused the instrumented bytes.
    #[error("the reference rejects the instrumented module: {0}")]
    ReferenceRejects(String),
    /// The interpreter stopped for a reason detvm has no trap for.
    #[error("the reference stopped for its own reasons: {0}")]
    ReferenceFailed(String),
    /// Instantiation (start function, segments) ended differently.
    #[error("instantiation differs: detvm {ours}, reference {theirs}")]
    Instantiation {
        /// detvm's outcome.
        ours: String,
        /// The interpreter's outcome.
        theirs: String,
    },
    /// detvm returned an engine error instead of an outcome.
    #[error("`{export}`: engine error: {error}")]
    Engine {
        /// The export called.
        export: String,
        /// The error.
        error: String,
    },
    /// A call ended differently.
    #[error(
        "`{export}` with {args} and gas limit {gas_limit}: detvm {ours:?}, reference {theirs:?}"
    )]
    Call {
        /// The export called.
        export: String,
        /// Its arguments, as detvm got them.
        args: String,
        /// The call's gas limit.
        gas_limit: u64,
        /// detvm's outcome.
        ours: Call,
        /// The interpreter's outcome.
        theirs: Call,
    },
    /// After a call, an exported memory, global or table differs.
    #[error("after `{export}` with {args} and gas limit {gas_limit}: {what}")]
    State {
        /// The export called last.
        export: String,
        /// Its arguments, as detvm got them.
        args: String,
        /// The call's gas limit.
        gas_limit: u64,
        /// What differs.
        what: String,
    },
}

/// How a call ended, in a form both engines can be compared by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Results by bits, references by null-ness.
    Returned(Vec<String>),
    /// The trap's stable name.
    Trapped(&'static str),
}

/// One call's outcome and the gas it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// How it ended.
    pub ended: Ended,
    /// Gas used.
    pub gas_used: u64,
}

/// What one or more comparisons covered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Modules generated.
    pub generated: u64,
    /// Modules compared to the end (instantiated in both engines).
    pub modules: u64,
    /// Modules the profile or the limits rejected (the engine agreed).
    pub rejected: u64,
    /// Calls compared.
    pub calls: u64,
    /// Calls that returned.
    pub returned: u64,
    /// Calls that ran out of gas.
    pub out_of_gas: u64,
    /// Calls that ended in another trap.
    pub other_traps: u64,
    /// Host calls detvm made.
    pub host_calls: u64,
    /// Modules whose divergence went away with every `local.get` in a
    /// block of its own ([`wrap_local_gets`]): wasmi's, as far as can be
    /// told (see that function).
    pub reference_suspects: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Self) {
        self.generated += other.generated;
        self.modules += other.modules;
        self.rejected += other.rejected;
        self.calls += other.calls;
        self.returned += other.returned;
        self.out_of_gas += other.out_of_gas;
        self.other_traps += other.other_traps;
        self.host_calls += other.host_calls;
        self.reference_suspects += other.reference_suspects;
    }
}

/// Where call arguments and gas limits come from: the generator input
/// left after wasm-smith took the module (fuzz targets, which then steer
/// the arguments too), or a seeded sequence (the runner, which needs far
/// more arguments than the input has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgSource {
    /// The rest of the generator input.
    Input,
    /// A sequence from this seed.
    Seeded(u64),
}

enum Draw<'a> {
    Input(arbitrary::Unstructured<'a>),
    Seeded(Lcg),
}

impl Draw<'_> {
    /// A pool (0, 1 or 2) and a wide number.
    fn next(&mut self) -> (u8, u64) {
        match self {
            Draw::Input(u) => (
                u.int_in_range(0..=2).unwrap_or(0),
                u.arbitrary().unwrap_or(0),
            ),
            Draw::Seeded(rng) => {
                let pool = rng.below(3) as u8;
                let wide = (u64::from(rng.next_u32()) << 32) | u64::from(rng.next_u32());
                (pool, wide)
            }
        }
    }
}

/// `mix`'s results.
fn mix(a: i32, b: i64, c: u32, d: u64) -> (i64, i32) {
    let wide = (b.wrapping_mul(31) ^ i64::from(a)).rotate_left(7) ^ d as i64;
    (wide.wrapping_add(i64::from(c)), a ^ c as i32 ^ 0x5555)
}

/// The gas `charge(n)` takes.
fn charge_amount(n: i64) -> u64 {
    n as u64 % 4096
}

/// [`HOST_IMPORTS`] for detvm; the store counts host calls.
fn define_host(linker: &mut Linker<u64>) {
    use ValType as T;
    linker.func("env", "charge", &[T::I64], &[], |caller, args| {
        *caller.data_mut() += 1;
        caller.charge_gas(charge_amount(args[0].as_i64().unwrap_or(0)))?;
        Ok(vec![])
    });
    linker.func("env", "gas", &[], &[T::I64], |caller, _| {
        *caller.data_mut() += 1;
        Ok(vec![Value::I64(caller.gas_left() as i64)])
    });
    linker.func(
        "env",
        "mix",
        &[T::I32, T::I64, T::F32, T::F64],
        &[T::I64, T::I32],
        |caller, args| {
            *caller.data_mut() += 1;
            let (Value::I32(a), Value::I64(b), Value::F32(c), Value::F64(d)) =
                (args[0], args[1], args[2], args[3])
            else {
                return Err(HostError::message("the linker checks the types"));
            };
            let (wide, narrow) = mix(a, b, c, d);
            Ok(vec![Value::I64(wide), Value::I32(narrow)])
        },
    );
    linker.func("env", "poke", &[T::I32, T::I32], &[], |caller, args| {
        *caller.data_mut() += 1;
        let (Value::I32(addr), Value::I32(byte)) = (args[0], args[1]) else {
            return Err(HostError::message("the linker checks the types"));
        };
        caller.memory_write(u64::from(addr as u32), &[byte as u8])?;
        Ok(vec![])
    });
    linker.func("env", "fail", &[T::I32], &[], |caller, args| {
        *caller.data_mut() += 1;
        match args[0].as_i32().unwrap_or(0) & 1 {
            0 => Ok(vec![]),
            _ => Err(HostError::message("odd")),
        }
    });
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
        // The profile has no v128: a module with one was rejected.
        wasmi::Val::V128(_) => "v128".to_owned(),
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
fn arg_for(ty: ValType, draw: &mut Draw<'_>) -> Value {
    let (pool, wide) = draw.next();
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

/// Why the reference did not instantiate: a trap both engines must agree
/// on, or a failure of the comparison itself.
enum NotInstantiated {
    Trapped(&'static str),
    Failed(Divergence),
}

impl Reference {
    /// Instantiates; the start function runs with `start_gas`.
    fn new(
        engine: &wasmi::Engine,
        instrumented: &[u8],
        start_gas: u64,
        stack_limit: u64,
    ) -> Result<Self, NotInstantiated> {
        fn failed(e: impl std::fmt::Display) -> NotInstantiated {
            NotInstantiated::Failed(Divergence::ReferenceRejects(e.to_string()))
        }
        let module = wasmi::Module::new(engine, instrumented).map_err(failed)?;
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
        define_reference_host(&mut linker).map_err(failed)?;
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
                .map_err(failed)?;
        }
        linker
            .define(abi::MODULE, abi::GAS_LEFT, gas_left)
            .map_err(failed)?;
        linker
            .define(abi::MODULE, abi::STACK_LEFT, stack_left)
            .map_err(failed)?;
        match linker.instantiate_and_start(&mut store, &module) {
            Ok(instance) => {
                let memory = store.data().memory.clone();
                store.data_mut().instantiated_memory =
                    memory.and_then(|name| instance.get_memory(&store, &name));
                Ok(Self {
                    instance,
                    store,
                    gas_left,
                    stack_left,
                    stack_limit,
                })
            }
            Err(error) => match trap_name(&error, store.data()) {
                Ok(name) => Err(NotInstantiated::Trapped(name)),
                Err(divergence) => Err(NotInstantiated::Failed(divergence)),
            },
        }
    }

    fn call(
        &mut self,
        name: &str,
        args: &[wasmi::Val],
        gas_limit: u64,
    ) -> Result<Call, Divergence> {
        let func = self
            .instance
            .get_func(&self.store, name)
            .ok_or_else(|| Divergence::ReferenceFailed(format!("no export `{name}`")))?;
        let mut results: Vec<wasmi::Val> = func
            .ty(&self.store)
            .results()
            .iter()
            .map(|ty| wasmi::Val::default_for_ty(*ty))
            .collect();
        self.store.data_mut().fired = None;
        let set = |global: wasmi::Global, store: &mut wasmi::Store<Reserved>, value: u64| {
            global
                .set(store, wasmi::Val::I64(value as i64))
                .map_err(|e| Divergence::ReferenceFailed(e.to_string()))
        };
        set(self.gas_left, &mut self.store, gas_limit)?;
        set(self.stack_left, &mut self.store, self.stack_limit)?;
        let ended = match func.call(&mut self.store, args, &mut results) {
            Ok(()) => Ended::Returned(results.iter().map(wasmi_key).collect()),
            Err(error) => Ended::Trapped(trap_name(&error, self.store.data())?),
        };
        let gas_used = if ended == Ended::Trapped("out_of_gas") {
            gas_limit
        } else {
            match self.gas_left.get(&self.store) {
                wasmi::Val::I64(left) => gas_limit.wrapping_sub(left as u64),
                other => {
                    return Err(Divergence::ReferenceFailed(format!(
                        "gas_left is {other:?}"
                    )));
                }
            }
        };
        Ok(Call { ended, gas_used })
    }
}

/// [`HOST_IMPORTS`] for the interpreter, with the semantics `define_host`
/// gives them in detvm.
fn define_reference_host(linker: &mut wasmi::Linker<Reserved>) -> Result<(), wasmi::Error> {
    type Caller<'a> = wasmi::Caller<'a, Reserved>;
    fn gas_global(caller: &Caller<'_>) -> Result<wasmi::Global, wasmi::Error> {
        caller
            .data()
            .gas_left
            .ok_or_else(|| wasmi::Error::new("gas_left is set before instantiation"))
    }
    fn gas_left(caller: &Caller<'_>) -> Result<i64, wasmi::Error> {
        match gas_global(caller)?.get(caller) {
            wasmi::Val::I64(left) => Ok(left),
            _ => Err(wasmi::Error::new("gas_left is an i64 global")),
        }
    }
    fn trap(caller: &mut Caller<'_>, name: &'static str) -> wasmi::Error {
        caller.data_mut().fired = Some(name);
        wasmi::Error::new(name)
    }
    linker
        .func_wrap("env", "charge", |mut caller: Caller<'_>, n: i64| {
            let left = gas_left(&caller)?;
            let amount = charge_amount(n);
            let (left, result) = match (left as u64).checked_sub(amount) {
                Some(left) => (left, Ok(())),
                None => (0, Err(trap(&mut caller, "out_of_gas"))),
            };
            gas_global(&caller)?.set(&mut caller, wasmi::Val::I64(left as i64))?;
            result
        })?
        .func_wrap("env", "gas", |caller: Caller<'_>| gas_left(&caller))?
        .func_wrap(
            "env",
            "mix",
            |a: i32, b: i64, c: wasmi::F32, d: wasmi::F64| -> (i64, i32) {
                mix(a, b, c.to_bits(), d.to_bits())
            },
        )?
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
        )?
        .func_wrap(
            "env",
            "fail",
            |mut caller: Caller<'_>, n: i32| -> Result<(), wasmi::Error> {
                match n & 1 {
                    0 => Ok(()),
                    _ => Err(trap(&mut caller, "host")),
                }
            },
        )?;
    Ok(())
}

fn trap_name(error: &wasmi::Error, reserved: &Reserved) -> Result<&'static str, Divergence> {
    use wasmi::TrapCode as T;
    use wasmi::errors::{ErrorKind, InstantiationError};
    if let Some(name) = reserved.fired {
        return Ok(name);
    }
    // An active element segment beyond its table is an instantiation error
    // in wasmi, and a trap in the specification and in detvm.
    if let ErrorKind::Instantiation(InstantiationError::ElementSegmentDoesNotFit { .. }) =
        error.kind()
    {
        return Ok("table_out_of_bounds");
    }
    Ok(match error.as_trap_code() {
        Some(T::UnreachableCodeReached) => "unreachable",
        Some(T::MemoryOutOfBounds) => "memory_out_of_bounds",
        Some(T::TableOutOfBounds) => "table_out_of_bounds",
        Some(T::IndirectCallToNull) => "uninitialized_element",
        Some(T::IntegerDivisionByZero) => "integer_divide_by_zero",
        Some(T::IntegerOverflow) => "integer_overflow",
        Some(T::BadConversionToInteger) => "invalid_conversion_to_integer",
        Some(T::BadSignature) => "indirect_call_type_mismatch",
        other => {
            return Err(Divergence::ReferenceFailed(format!("{other:?}: {error}")));
        }
    })
}

/// The two engines, ready to compare any number of modules.
pub struct Differential {
    engine: Engine,
    reference: wasmi::Engine,
}

impl Differential {
    /// detvm with the `spec` limits (so generated modules are not cut by
    /// the contract limits) and the interpreter. With `slot_strategy_only`
    /// every function takes the slot strategy (`docs/vm.md`, two
    /// translation strategies); otherwise the engine chooses per function.
    pub fn new(slot_strategy_only: bool) -> Result<Self, detvm_vm::Error> {
        let mut config = EngineConfig::spec();
        config.slot_strategy_only = slot_strategy_only;
        let engine = Engine::new(config)?;
        // The interpreter's own limits are far beyond the instrumented
        // stack bound, so that bound, not wasmi's, ends deep recursion.
        let mut reference = wasmi::Config::default();
        reference.set_max_recursion_depth(100_000);
        reference.set_max_stack_height(256 << 20);
        Ok(Self {
            engine,
            reference: wasmi::Engine::new(&reference),
        })
    }

    /// Generates a module from `data`, then calls every export `rounds`
    /// times in both engines (round `r` with gas limit `GAS_LIMITS[r]`
    /// while there are, then limits drawn like the arguments), comparing
    /// each call and the exported state after it.
    pub fn check(&self, data: &[u8], rounds: usize, args: ArgSource) -> Result<Tally, Divergence> {
        let mut u = arbitrary::Unstructured::new(data);
        let Ok(module) = wasm_smith::Module::new(smith_config(), &mut u) else {
            return Ok(Tally::default());
        };
        let generated = module.to_bytes();
        let rewrite = |wrap| {
            rewrite(&generated, wrap).map_err(|e| {
                Divergence::ReferenceRejects(format!(
                    "the generated module does not re-encode: {e}"
                ))
            })
        };
        let bytes = rewrite(false)?;
        let rest = u.take_rest();
        let draw = || match args {
            ArgSource::Seeded(seed) => Draw::Seeded(Lcg::new(splitmix(seed))),
            ArgSource::Input => Draw::Input(arbitrary::Unstructured::new(rest)),
        };
        let mut tally = match self.compare(&bytes, rounds, &mut draw()) {
            Err(divergence @ (Divergence::Call { .. } | Divergence::State { .. })) => {
                match self.compare(&rewrite(true)?, rounds, &mut draw()) {
                    Ok(mut tally) => {
                        tally.reference_suspects = 1;
                        tally
                    }
                    Err(_) => return Err(divergence),
                }
            }
            other => other?,
        };
        tally.generated = 1;
        Ok(tally)
    }

    /// Compares the module `wasm` as [`Differential::check`] compares a
    /// generated one, with arguments drawn from `seed`. NaNs are not
    /// canonicalised: a float result or value in memory that may be a NaN
    /// of the specification's free choice can differ.
    pub fn check_wasm(&self, wasm: &[u8], rounds: usize, seed: u64) -> Result<Tally, Divergence> {
        self.compare(wasm, rounds, &mut Draw::Seeded(Lcg::new(splitmix(seed))))
    }

    fn compare(
        &self,
        bytes: &[u8],
        rounds: usize,
        draw: &mut Draw<'_>,
    ) -> Result<Tally, Divergence> {
        let mut tally = Tally::default();
        let config = self.engine.config();
        // What `Module::new` does, so the interpreter runs the same bytes.
        let mut validation = Config::with_limits(config.limits.clone());
        validation.imports = config.imports.clone();
        let info = match validate(bytes, &validation) {
            Ok(info) => info,
            Err(error) => {
                return match Module::new(&self.engine, bytes) {
                    Err(_) => {
                        tally.rejected = 1;
                        Ok(tally)
                    }
                    Ok(_) => Err(Divergence::Acceptance(format!(
                        "the engine accepts what validation rejects: {error}"
                    ))),
                };
            }
        };
        let instrumented = instrument(bytes, &info, &config.schedule, &config.stack)
            .map_err(|error| Divergence::Instrument(error.to_string()))?;
        let module = Module::new(&self.engine, bytes).map_err(|error| {
            Divergence::Acceptance(format!("the engine rejects a valid module: {error}"))
        })?;

        let mut store = Store::new(&self.engine, 0u64);
        let mut linker = Linker::new(&self.engine);
        define_host(&mut linker);
        let detvm = Instance::new(&mut store, &module, &linker);
        let reference = Reference::new(
            &self.reference,
            &instrumented.bytes,
            config.start_gas_limit,
            config.stack.limit,
        );
        let (detvm, mut reference) = match (detvm, reference) {
            (Ok(detvm), Ok(reference)) => (detvm, reference),
            (_, Err(NotInstantiated::Failed(divergence))) => return Err(divergence),
            (Err(error), Err(NotInstantiated::Trapped(theirs)))
                if error.trap_kind().map(|k| k.name()) == Some(theirs) =>
            {
                tally.modules = 1;
                return Ok(tally);
            }
            (detvm, reference) => {
                return Err(Divergence::Instantiation {
                    ours: match detvm {
                        Ok(_) => "instantiated".to_owned(),
                        Err(error) => error.to_string(),
                    },
                    theirs: match reference {
                        Ok(_) => "instantiated".to_owned(),
                        Err(NotInstantiated::Trapped(name)) => format!("trap {name}"),
                        Err(NotInstantiated::Failed(d)) => d.to_string(),
                    },
                });
            }
        };

        let exports = detvm.exports(&store).map_err(|error| Divergence::Engine {
            export: String::new(),
            error: error.to_string(),
        })?;
        for round in 0..rounds {
            for (name, item) in &exports {
                let Extern::Func(func) = item else { continue };
                let ty = func.ty(&store).map_err(|error| Divergence::Engine {
                    export: name.clone(),
                    error: error.to_string(),
                })?;
                let gas_limit = match GAS_LIMITS.get(round) {
                    Some(&limit) => limit,
                    None => match draw.next() {
                        (0, wide) => GAS_LIMITS[(wide % 4) as usize],
                        (_, wide) => wide % 100_000,
                    },
                };
                let args: Vec<Value> = ty.params().iter().map(|&t| arg_for(t, draw)).collect();
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
                        return Err(Divergence::Engine {
                            export: name.clone(),
                            error: error.to_string(),
                        });
                    }
                };
                let theirs = reference.call(name, &wasmi_args, gas_limit)?;
                let args = format!("{args:?}");
                if ours != theirs {
                    return Err(Divergence::Call {
                        export: name.clone(),
                        args,
                        gas_limit,
                        ours,
                        theirs,
                    });
                }
                tally.calls += 1;
                match ours.ended {
                    Ended::Returned(_) => tally.returned += 1,
                    Ended::Trapped("out_of_gas") => tally.out_of_gas += 1,
                    Ended::Trapped(_) => tally.other_traps += 1,
                }
                compare_state(&store, &exports, &reference).map_err(|what| Divergence::State {
                    export: name.clone(),
                    args: args.clone(),
                    gas_limit,
                    what,
                })?;
            }
        }
        tally.modules = 1;
        tally.host_calls = *store.data();
        Ok(tally)
    }
}

/// Every exported memory byte for byte, global by bits and table element
/// by null-ness must be the same in both engines.
fn compare_state(
    store: &Store<u64>,
    exports: &[(String, Extern)],
    reference: &Reference,
) -> Result<(), String> {
    let store_error = |e: detvm_vm::Error| e.to_string();
    for (name, item) in exports {
        let theirs = reference.instance.get_export(&reference.store, name);
        match (item, theirs) {
            (Extern::Func(_), Some(wasmi::Extern::Func(_))) => {}
            (Extern::Memory(memory), Some(wasmi::Extern::Memory(other))) => {
                let ours = memory.data(store).map_err(store_error)?;
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
                let ours = detvm_key(&global.get(store).map_err(store_error)?);
                let theirs = wasmi_key(&other.get(&reference.store));
                if ours != theirs {
                    return Err(format!("global `{name}`: {ours} vs {theirs}"));
                }
            }
            (Extern::Table(table), Some(wasmi::Extern::Table(other))) => {
                let size = table.size(store).map_err(store_error)?;
                if size != other.size(&reference.store) {
                    return Err(format!("table `{name}` size differs"));
                }
                for index in 0..size {
                    let ours = detvm_key(&table.get(store, index).map_err(store_error)?);
                    let theirs = match other.get(&reference.store, index) {
                        Some(value) => ref_key(value.is_func(), value.is_null()),
                        None => "out of bounds".to_owned(),
                    };
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

/// What the comparison runs instead of a generated module: `bytes` with
/// the NaN results of `f32.demote_f64` and `f64.promote_f32` canonicalised
/// the way wasm-smith's `canonicalize_nans` does for the other float
/// operators (it leaves these two out: the specification lets a
/// conversion keep a NaN's payload, which wasmi does and detvm, by its
/// profile, does not), and with `wrap_gets` the rewrite of
/// [`wrap_local_gets`] that works around wasmi's defects.
pub fn rewrite(bytes: &[u8], wrap_gets: bool) -> Result<Vec<u8>, String> {
    use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
    use wasmparser::Payload;

    // Each defined function's parameter types: locals are numbered after
    // them, and a wrapped `local.get` needs its local's type.
    let mut types = Vec::new();
    let mut params = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty.map_err(|e| e.to_string())?.params().to_vec());
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    let ty = ty.map_err(|e| e.to_string())? as usize;
                    params.push(types.get(ty).cloned().unwrap_or_default());
                }
            }
            _ => {}
        }
    }

    struct Rewrite {
        params: Vec<Vec<wasmparser::ValType>>,
        next: usize,
        wrap_gets: bool,
    }
    impl Reencode for Rewrite {
        type Error = std::convert::Infallible;
        fn parse_function_body(
            &mut self,
            code: &mut wasm_encoder::CodeSection,
            func: wasmparser::FunctionBody<'_>,
        ) -> Result<(), wasm_encoder::reencode::Error<Self::Error>> {
            use wasm_encoder::{BlockType, Ieee32, Ieee64, Instruction as I, ValType as V};
            let mut all: Vec<V> = Vec::new();
            for &ty in self.params.get(self.next).map(Vec::as_slice).unwrap_or(&[]) {
                all.push(RoundtripReencoder.val_type(ty)?);
            }
            self.next += 1;
            let mut locals = Vec::new();
            for pair in func.get_locals_reader()? {
                let (count, ty) = pair?;
                let ty = RoundtripReencoder.val_type(ty)?;
                locals.push((count, ty));
                all.extend(std::iter::repeat_n(ty, count as usize));
            }
            // Scratch locals after the function's own.
            let (f32_tmp, f64_tmp) = (all.len() as u32, all.len() as u32 + 1);
            locals.push((1, V::F32));
            locals.push((1, V::F64));
            let mut f = wasm_encoder::Function::new(locals);
            let mut reader = func.get_operators_reader()?;
            while !reader.eof() {
                let op = reader.read()?;
                match op {
                    wasmparser::Operator::LocalGet { local_index } if self.wrap_gets => {
                        let ty = all.get(local_index as usize).copied().unwrap_or(V::I32);
                        f.instruction(&I::Block(BlockType::Result(ty)));
                        f.instruction(&I::LocalGet(local_index));
                        f.instruction(&I::End);
                    }
                    // The value a `local.tee` leaves is a deferred read of
                    // the local too: set it, then read it alone in a block.
                    wasmparser::Operator::LocalTee { local_index } if self.wrap_gets => {
                        let ty = all.get(local_index as usize).copied().unwrap_or(V::I32);
                        f.instruction(&I::LocalSet(local_index));
                        f.instruction(&I::Block(BlockType::Result(ty)));
                        f.instruction(&I::LocalGet(local_index));
                        f.instruction(&I::End);
                    }
                    // wasmi 2 runs a `select` the wrong way round when it
                    // folds the condition to a constant (`ref.is_null` of
                    // a null, `eqz` of a fresh local); an addition right
                    // before it keeps the two apart
                    // (`wasmi_inverts_a_select_on_a_folded_condition`).
                    op @ (wasmparser::Operator::Select
                    | wasmparser::Operator::TypedSelect { .. })
                        if self.wrap_gets =>
                    {
                        f.instruction(&I::I32Const(0));
                        f.instruction(&I::I32Add);
                        f.instruction(&RoundtripReencoder.instruction(op)?);
                    }
                    wasmparser::Operator::F32DemoteF64 => {
                        f.instruction(&I::F32DemoteF64);
                        f.instruction(&I::LocalTee(f32_tmp));
                        f.instruction(&I::F32Const(Ieee32::from(f32::from_bits(0x7fc0_0000))));
                        f.instruction(&I::LocalGet(f32_tmp));
                        f.instruction(&I::LocalGet(f32_tmp));
                        f.instruction(&I::F32Eq);
                        f.instruction(&I::Select);
                    }
                    wasmparser::Operator::F64PromoteF32 => {
                        f.instruction(&I::F64PromoteF32);
                        f.instruction(&I::LocalTee(f64_tmp));
                        f.instruction(&I::F64Const(Ieee64::from(f64::from_bits(
                            0x7ff8_0000_0000_0000,
                        ))));
                        f.instruction(&I::LocalGet(f64_tmp));
                        f.instruction(&I::LocalGet(f64_tmp));
                        f.instruction(&I::F64Eq);
                        f.instruction(&I::Select);
                    }
                    op => {
                        f.instruction(&RoundtripReencoder.instruction(op)?);
                    }
                }
            }
            code.function(&f);
            Ok(())
        }
    }

    let mut module = wasm_encoder::Module::new();
    Rewrite {
        params,
        next: 0,
        wrap_gets,
    }
    .parse_core_module(&mut module, wasmparser::Parser::new(0), bytes)
    .map_err(|e| e.to_string())?;
    Ok(module.finish())
}

/// The rewrite that tells a wasmi bug from a detvm one. wasmi 2 defers
/// `local.get` (and the value `local.tee` leaves), keeping a reference to
/// the local on its operand stack; below an `if` whose block type has
/// parameters, the value read later can be garbage: when a branch sets
/// the local, the copy made before the `local.set` lands in code the
/// untaken branch skips, and with a condition the translator cannot fold
/// the value is lost even with no `local.set` (`tests/differential.rs`,
/// `wasmi_loses_a_local_read_before_an_if_with_params`,
/// `wasmi_loses_a_local_below_an_if_with_params_and_no_set`). A
/// `local.get` alone in a block is read at once, so the rewrite reads every
/// local that way, `local.tee` as `local.set` and such a read. It also
/// puts `i32.const 0; i32.add` before every `select`: wasmi 2 picks the
/// wrong operand of a `select` whose condition it folds to a constant (a
/// `ref.is_null` of a null, `i32.eqz` of a declared local still 0:
/// `wasmi_inverts_a_select_on_a_folded_condition`), and not once anything
/// stands between them. When a divergence goes away with this rewrite, the comparison
/// counts the module as a reference suspect instead of a finding.
pub fn wrap_local_gets(bytes: &[u8]) -> Result<Vec<u8>, String> {
    rewrite(bytes, true)
}

/// The generator input of the runner's module `seed`: 512 to 16,383
/// bytes, the same on every machine.
pub fn seed_input(seed: u64) -> Vec<u8> {
    let mut rng = Lcg::new(splitmix(seed));
    let len = 512 + rng.below(16_384 - 512) as usize;
    (0..len).map(|_| rng.next_u32() as u8).collect()
}

/// Spreads consecutive seeds over the generator's state space.
pub fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
