//! Instantiation, linking, exports, segments, the start function, memory
//! growth and the call API.

use detvm_vm::*;

fn engine_with(configure: impl FnOnce(&mut EngineConfig)) -> Engine {
    let mut config = EngineConfig::default();
    configure(&mut config);
    Engine::new(config).expect("engine")
}

fn module(engine: &Engine, wat: &str) -> Module {
    Module::new(engine, &wat::parse_str(wat).expect("wat")).expect("module")
}

fn instantiate(engine: &Engine, wat: &str) -> (Store<()>, Instance) {
    let module = module(engine, wat);
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &Linker::new(engine)).expect("instance");
    (store, instance)
}

fn call(store: &mut Store<()>, instance: &Instance, name: &str, args: &[Value]) -> Outcome {
    instance.call(store, name, args, 10_000_000).expect("call")
}

fn results(outcome: Outcome) -> Vec<Value> {
    match outcome {
        Outcome::Success { results, .. } => results,
        other => panic!("expected success, got {other:?}"),
    }
}

fn trap_kind(outcome: &Outcome) -> TrapKind {
    outcome
        .trap_kind()
        .unwrap_or_else(|| panic!("expected a trap, got {outcome:?}"))
}

const GROW: &str = r#"
(module
  (memory (export "mem") 1)
  (data (i32.const 0) "\2a")
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "size") (result i32) memory.size))
"#;

fn check_grow_limit(metering: bool) {
    let engine = engine_with(|c| {
        c.metering = metering;
        c.limits.memory_pages = 3;
    });
    let (mut store, instance) = instantiate(&engine, GROW);
    assert_eq!(
        results(call(&mut store, &instance, "grow", &[Value::I32(2)])),
        [Value::I32(1)]
    );
    // At the limit: growing by zero succeeds, by one fails.
    assert_eq!(
        results(call(&mut store, &instance, "grow", &[Value::I32(0)])),
        [Value::I32(3)]
    );
    assert_eq!(
        results(call(&mut store, &instance, "grow", &[Value::I32(1)])),
        [Value::I32(-1)]
    );
    // The per-page fee for 2^32 - 1 pages is payable with the largest limit.
    let out = instance
        .call(&mut store, "grow", &[Value::I32(-1)], u64::MAX)
        .unwrap();
    assert_eq!(out.results(), Some(&[Value::I32(-1)][..]));
    assert_eq!(
        results(call(&mut store, &instance, "size", &[])),
        [Value::I32(3)]
    );
    let memory = instance.get_memory(&store, "mem").unwrap();
    let data = memory.data(&store).unwrap();
    assert_eq!(data.len(), 3 << 16);
    assert_eq!(data[0], 42);
    assert!(data[1..].iter().all(|&b| b == 0));
}

#[test]
fn memory_grow_at_and_beyond_engine_limit() {
    check_grow_limit(true);
}

#[test]
fn memory_grow_at_and_beyond_engine_limit_metering_off() {
    check_grow_limit(false);
}

#[test]
fn memory_grow_beyond_declared_maximum() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module (memory 1 2)
             (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))"#,
    );
    assert_eq!(
        results(call(&mut store, &instance, "grow", &[Value::I32(1)])),
        [Value::I32(1)]
    );
    assert_eq!(
        results(call(&mut store, &instance, "grow", &[Value::I32(1)])),
        [Value::I32(-1)]
    );
}

#[test]
fn data_and_element_segments_are_applied() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
             (memory (export "mem") 1)
             (table 4 funcref)
             (func $one (result i32) i32.const 1)
             (func $two (result i32) i32.const 2)
             (elem (i32.const 1) $one $two)
             (elem $passive func $two $one)
             (data (i32.const 8) "hello")
             (data $later "world")
             (type $t (func (result i32)))
             (func (export "at") (param i32) (result i32)
               local.get 0 call_indirect (type $t))
             (func (export "init")
               (memory.init $later (i32.const 100) (i32.const 0) (i32.const 5))
               (table.init $passive (i32.const 2) (i32.const 0) (i32.const 2))))"#,
    );
    let memory = instance.get_memory(&store, "mem").unwrap();
    assert_eq!(&memory.data(&store).unwrap()[8..13], b"hello");
    assert_eq!(
        results(call(&mut store, &instance, "at", &[Value::I32(1)])),
        [Value::I32(1)]
    );
    assert_eq!(
        results(call(&mut store, &instance, "at", &[Value::I32(2)])),
        [Value::I32(2)]
    );
    let empty = call(&mut store, &instance, "at", &[Value::I32(3)]);
    assert_eq!(trap_kind(&empty), TrapKind::UninitializedElement);
    let out = call(&mut store, &instance, "at", &[Value::I32(4)]);
    assert_eq!(trap_kind(&out), TrapKind::TableOutOfBounds);

    results(call(&mut store, &instance, "init", &[]));
    assert_eq!(&memory.data(&store).unwrap()[100..105], b"world");
    assert_eq!(
        results(call(&mut store, &instance, "at", &[Value::I32(2)])),
        [Value::I32(2)]
    );
    assert_eq!(
        results(call(&mut store, &instance, "at", &[Value::I32(3)])),
        [Value::I32(1)]
    );
}

#[test]
fn dropped_and_active_segments_cannot_be_reused() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
             (memory 1)
             (data $active (i32.const 0) "ab")
             (data $passive "cd")
             (func (export "init_active")
               (memory.init $active (i32.const 0) (i32.const 0) (i32.const 1)))
             (func (export "init_passive")
               (memory.init $passive (i32.const 0) (i32.const 0) (i32.const 2)))
             (func (export "drop_passive") (data.drop $passive))
             (func (export "init_empty")
               (memory.init $active (i32.const 0) (i32.const 0) (i32.const 0))))"#,
    );
    let out = call(&mut store, &instance, "init_active", &[]);
    assert_eq!(trap_kind(&out), TrapKind::MemoryOutOfBounds);
    results(call(&mut store, &instance, "init_empty", &[]));
    results(call(&mut store, &instance, "init_passive", &[]));
    results(call(&mut store, &instance, "drop_passive", &[]));
    let out = call(&mut store, &instance, "init_passive", &[]);
    assert_eq!(trap_kind(&out), TrapKind::MemoryOutOfBounds);
}

#[test]
fn start_function_runs_at_instantiation() {
    let engine = Engine::default();
    let (store, instance) = instantiate(
        &engine,
        r#"(module
             (global $g (export "g") (mut i32) (i32.const 1))
             (func $start (global.set $g (i32.const 7)))
             (start $start))"#,
    );
    assert_eq!(instance.get_global(&store, "g"), Some(Value::I32(7)));
}

#[test]
fn start_function_trap_is_an_instantiation_error() {
    let engine = Engine::default();
    let module = module(&engine, r#"(module (func $s unreachable) (start $s))"#);
    let mut store = Store::new(&engine, ());
    let err = Instance::new(&mut store, &module, &Linker::new(&engine)).unwrap_err();
    assert_eq!(
        err,
        Error::Instantiation {
            kind: TrapKind::Unreachable,
            message: None
        }
    );
    assert_eq!(err.trap_kind(), Some(TrapKind::Unreachable));
    assert_eq!(err.kind(), "instantiation");
}

#[test]
fn start_function_out_of_gas_is_an_instantiation_error() {
    let engine = engine_with(|c| c.start_gas_limit = 1_000);
    let module = module(&engine, r#"(module (func $s (loop br 0)) (start $s))"#);
    let mut store = Store::new(&engine, ());
    let err = Instance::new(&mut store, &module, &Linker::new(&engine)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Instantiation {
                kind: TrapKind::OutOfGas,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn out_of_bounds_segments_trap_in_order_keeping_earlier_effects() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let memory = Memory::new(
        &mut store,
        MemoryType {
            minimum: 1,
            maximum: None,
        },
    )
    .unwrap();
    let table = Table::new(
        &mut store,
        TableType {
            element: ValType::FuncRef,
            minimum: 2,
            maximum: None,
        },
        Value::FuncRef(None),
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker
        .define("env", "mem", memory)
        .define("env", "tab", table);

    let data_oob = module(
        &engine,
        r#"(module
             (import "env" "mem" (memory 1))
             (data (i32.const 0) "first")
             (data (i32.const 65535) "xy")
             (data (i32.const 10) "never"))"#,
    );
    let err = Instance::new(&mut store, &data_oob, &linker).unwrap_err();
    assert_eq!(
        err,
        Error::Instantiation {
            kind: TrapKind::MemoryOutOfBounds,
            message: None
        }
    );
    let bytes = memory.data(&store).unwrap();
    assert_eq!(&bytes[..5], b"first");
    assert_eq!(&bytes[10..15], &[0; 5]);
    assert_eq!(bytes[65535], 0, "a failing segment writes nothing");

    let elem_oob = module(
        &engine,
        r#"(module
             (import "env" "tab" (table 2 funcref))
             (import "env" "mem" (memory 1))
             (func $f)
             (elem (i32.const 0) $f)
             (elem (i32.const 1) $f $f)
             (data (i32.const 20) "data"))"#,
    );
    let err = Instance::new(&mut store, &elem_oob, &linker).unwrap_err();
    assert_eq!(
        err,
        Error::Instantiation {
            kind: TrapKind::TableOutOfBounds,
            message: None
        }
    );
    assert!(matches!(
        table.get(&store, 0).unwrap(),
        Value::FuncRef(Some(_))
    ));
    assert_eq!(table.get(&store, 1).unwrap(), Value::FuncRef(None));
    assert_eq!(
        &memory.data(&store).unwrap()[20..24],
        &[0; 4],
        "data comes after elements"
    );
}

#[test]
fn linking_errors() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let memory = Memory::new(
        &mut store,
        MemoryType {
            minimum: 1,
            maximum: Some(2),
        },
    )
    .unwrap();
    let global = Global::new(
        &mut store,
        GlobalType {
            content: ValType::I32,
            mutable: false,
        },
        Value::I32(3),
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker
        .define("env", "mem", memory)
        .define("env", "g", global)
        .func("env", "f", &[ValType::I32], &[], |_, _| Ok(vec![]));

    let link = |wat: &str, store: &mut Store<()>| {
        Instance::new(store, &module(&engine, wat), &linker).map(|_| ())
    };
    let reason = |r: Result<(), Error>| match r {
        Err(Error::Link {
            module,
            name,
            reason,
        }) => format!("{module}.{name}: {reason}"),
        other => panic!("expected a link error, got {other:?}"),
    };

    assert!(
        reason(link(r#"(module (import "env" "nope" (func)))"#, &mut store))
            .starts_with("env.nope: unknown import")
    );
    assert!(
        reason(link(
            r#"(module (import "env" "f" (func (param i64))))"#,
            &mut store
        ))
        .starts_with("env.f: expected function")
    );
    assert!(
        reason(link(
            r#"(module (import "env" "f" (func (param i32) (result i32))))"#,
            &mut store
        ))
        .starts_with("env.f: expected function")
    );
    assert!(
        reason(link(r#"(module (import "env" "mem" (func)))"#, &mut store))
            .contains("expected func, found memory")
    );
    assert!(
        reason(link(
            r#"(module (import "env" "f" (memory 1)))"#,
            &mut store
        ))
        .contains("expected memory, found func")
    );
    // Limits: the provided minimum must be at least, and the maximum at
    // most, what the import asks for.
    assert!(
        reason(link(
            r#"(module (import "env" "mem" (memory 2)))"#,
            &mut store
        ))
        .starts_with("env.mem: expected memory")
    );
    assert!(
        reason(link(
            r#"(module (import "env" "mem" (memory 1 1)))"#,
            &mut store
        ))
        .starts_with("env.mem: expected memory")
    );
    link(r#"(module (import "env" "mem" (memory 1 3)))"#, &mut store).unwrap();
    link(r#"(module (import "env" "mem" (memory 0)))"#, &mut store).unwrap();
    // Globals: type and mutability must match exactly.
    assert!(
        reason(link(
            r#"(module (import "env" "g" (global (mut i32))))"#,
            &mut store
        ))
        .starts_with("env.g: expected global")
    );
    assert!(
        reason(link(
            r#"(module (import "env" "g" (global i64)))"#,
            &mut store
        ))
        .starts_with("env.g: expected global")
    );
    link(r#"(module (import "env" "g" (global i32)))"#, &mut store).unwrap();
    link(
        r#"(module (import "env" "f" (func (param i32))))"#,
        &mut store,
    )
    .unwrap();

    // Items of another store cannot be linked.
    let mut other = Store::new(&engine, ());
    assert!(
        reason(link(
            r#"(module (import "env" "mem" (memory 1)))"#,
            &mut other
        ))
        .contains("another store")
    );
}

#[test]
fn instances_import_each_others_exports() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let provider = Instance::new(
        &mut store,
        &module(
            &engine,
            r#"(module
                 (memory (export "mem") 1)
                 (table (export "tab") 2 funcref)
                 (global (export "g") (mut i64) (i64.const 5))
                 (func $double (export "double") (param i32) (result i32)
                   local.get 0 i32.const 2 i32.mul)
                 (elem (i32.const 0) $double)
                 (func (export "peek") (result i32) i32.const 0 i32.load8_u))"#,
        ),
        &Linker::new(&engine),
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker.instance(&store, "provider", &provider).unwrap();
    let user = Instance::new(
        &mut store,
        &module(
            &engine,
            r#"(module
                 (import "provider" "double" (func $double (param i32) (result i32)))
                 (import "provider" "mem" (memory 1))
                 (import "provider" "tab" (table 2 funcref))
                 (import "provider" "g" (global $g (mut i64)))
                 (type $unary (func (param i32) (result i32)))
                 (type $nullary (func (result i32)))
                 (func (export "run") (param i32) (result i32)
                   (global.set $g (i64.const 9))
                   (i32.store8 (i32.const 0) (i32.const 77))
                   (call_indirect (type $unary) (call $double (local.get 0)) (i32.const 0)))
                 (func (export "wrong_type") (result i32)
                   (call_indirect (type $nullary) (i32.const 0))))"#,
        ),
        &linker,
    )
    .unwrap();
    assert_eq!(
        results(call(&mut store, &user, "run", &[Value::I32(5)])),
        [Value::I32(20)]
    );
    assert_eq!(provider.get_global(&store, "g"), Some(Value::I64(9)));
    assert_eq!(
        results(call(&mut store, &provider, "peek", &[])),
        [Value::I32(77)]
    );
    let out = call(&mut store, &user, "wrong_type", &[]);
    assert_eq!(trap_kind(&out), TrapKind::IndirectCallTypeMismatch);
}

#[test]
fn call_argument_errors() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
             (global (export "g") i32 (i32.const 0))
             (func (export "f") (param i32 f64) (result i32) local.get 0)
             (func (export "r") (param funcref)))"#,
    );
    let err = |r: Result<Outcome, Error>| match r {
        Err(Error::Call(e)) => e,
        other => panic!("expected a call error, got {other:?}"),
    };
    assert_eq!(
        err(instance.call(&mut store, "f", &[Value::I32(1)], 100)),
        CallError::ArgumentCount {
            expected: 2,
            actual: 1
        }
    );
    assert_eq!(
        err(instance.call(&mut store, "f", &[Value::I32(1), Value::F32(0)], 100)),
        CallError::ArgumentType {
            index: 1,
            expected: ValType::F64,
            actual: ValType::F32
        }
    );
    assert_eq!(
        err(instance.call(&mut store, "missing", &[], 100)),
        CallError::NoSuchExport("missing".into())
    );
    assert_eq!(
        err(instance.call(&mut store, "g", &[], 100)),
        CallError::NotAFunction("g".into())
    );
    let (mut other_store, other) = instantiate(&engine, r#"(module (func (export "x")))"#);
    let foreign = other.get_func(&other_store, "x").unwrap();
    assert_eq!(
        err(instance.call(&mut store, "r", &[Value::FuncRef(Some(foreign))], 100)),
        CallError::ForeignReference(0)
    );
    assert_eq!(
        instance.call(&mut other_store, "f", &[], 100),
        Err(Error::WrongStore)
    );
    let f = instance.get_func(&store, "f").unwrap();
    assert_eq!(
        f.ty(&store).unwrap(),
        FuncType::new([ValType::I32, ValType::F64], [ValType::I32])
    );
}

/// More parameters than `Func::call` keeps on the stack (the default
/// limits allow 64 parameters but only 8 results).
#[test]
fn wide_signatures_are_called_like_narrow_ones() {
    let engine = Engine::default();
    let params = "i64 ".repeat(20);
    let gets: String = (0..20).map(|i| format!("local.get {i} ")).collect();
    let sums: String = (0..19).map(|_| "i64.add ").collect();
    let last: String = (12..20).rev().map(|i| format!("local.get {i} ")).collect();
    let eight = "i64 ".repeat(8);
    let (mut store, instance) = instantiate(
        &engine,
        &format!(
            r#"(module
                 (func (export "sum") (param {params}) (result i64) {gets} {sums})
                 (func (export "last") (param {params}) (result {eight}) {last}))"#
        ),
    );
    let args: Vec<Value> = (1..=20).map(Value::I64).collect();
    let out = call(&mut store, &instance, "sum", &args);
    assert_eq!(results(out), [Value::I64(210)]);
    let out = call(&mut store, &instance, "last", &args);
    let expected: Vec<Value> = (13..=20).rev().map(Value::I64).collect();
    assert_eq!(results(out), expected);
    // Argument checks apply to the wide path too.
    let mut wrong = args.clone();
    wrong[17] = Value::I32(0);
    assert_eq!(
        instance.call(&mut store, "sum", &wrong, 1_000),
        Err(Error::Call(CallError::ArgumentType {
            index: 17,
            expected: ValType::I64,
            actual: ValType::I32,
        }))
    );
}

#[test]
fn values_round_trip_bit_exactly() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
             (func $target (export "target") (result i32) i32.const 11)
             (func (export "id") (param i64 f32 f64 externref) (result externref f64 f32 i64)
               local.get 3 local.get 2 local.get 1 local.get 0)
             (func (export "get_ref") (result funcref) ref.func $target)
             (func (export "is_null") (param funcref) (result i32) local.get 0 ref.is_null))"#,
    );
    let big = ExternRef::new(ExternRef::MAX_ID);
    let out = results(call(
        &mut store,
        &instance,
        "id",
        &[
            Value::I64(0),
            Value::F32(0),
            Value::F64(0),
            Value::ExternRef(Some(big)),
        ],
    ));
    assert_eq!(out[0], Value::ExternRef(Some(big)));
    assert_eq!(big.id(), u64::MAX - 1);
    let nan_f32 = 0x7fa0_0001;
    let nan_f64 = 0xfff0_0000_0000_0001;
    let out = results(call(
        &mut store,
        &instance,
        "id",
        &[
            Value::I64(-2),
            Value::F32(nan_f32),
            Value::F64(nan_f64),
            Value::ExternRef(Some(ExternRef::new(0))),
        ],
    ));
    assert_eq!(
        out,
        [
            Value::ExternRef(Some(ExternRef::new(0))),
            Value::F64(nan_f64),
            Value::F32(nan_f32),
            Value::I64(-2)
        ]
    );
    let Value::FuncRef(Some(target)) = results(call(&mut store, &instance, "get_ref", &[]))[0]
    else {
        panic!("expected a function reference");
    };
    assert_eq!(
        target.call(&mut store, &[], 1000).unwrap().results(),
        Some(&[Value::I32(11)][..])
    );
    assert_eq!(
        results(call(
            &mut store,
            &instance,
            "is_null",
            &[Value::FuncRef(Some(target))]
        )),
        [Value::I32(0)]
    );
    assert_eq!(
        results(call(
            &mut store,
            &instance,
            "is_null",
            &[Value::FuncRef(None)]
        )),
        [Value::I32(1)]
    );
}

#[test]
fn state_after_a_trap_is_as_at_the_trap() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
             (memory (export "mem") 1)
             (global (export "g") (mut i32) (i32.const 0))
             (func (export "f")
               (global.set 0 (i32.const 5))
               (i32.store (i32.const 0) (i32.const 42))
               (i32.store (i32.const 65534) (i32.const 1))
               (global.set 0 (i32.const 6)))
             (func (export "div") (param i32) (result i32)
               (global.set 0 (i32.const 8))
               (i32.div_u (i32.const 1) (local.get 0))))"#,
    );
    let out = call(&mut store, &instance, "f", &[]);
    assert_eq!(trap_kind(&out), TrapKind::MemoryOutOfBounds);
    assert!(out.gas_used() > 0);
    assert_eq!(instance.get_global(&store, "g"), Some(Value::I32(5)));
    let memory = instance.get_memory(&store, "mem").unwrap();
    assert_eq!(&memory.data(&store).unwrap()[..4], &42u32.to_le_bytes());
    assert_eq!(&memory.data(&store).unwrap()[65532..], &[0; 4]);

    let out = call(&mut store, &instance, "div", &[Value::I32(0)]);
    assert_eq!(trap_kind(&out), TrapKind::IntegerDivideByZero);
    assert_eq!(instance.get_global(&store, "g"), Some(Value::I32(8)));
    // The store stays usable after a trap.
    assert_eq!(
        results(call(&mut store, &instance, "div", &[Value::I32(1)])),
        [Value::I32(1)]
    );
}

#[test]
fn calls_with_metering_off_report_no_gas() {
    let engine = engine_with(|c| c.metering = false);
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
             (func $fac (export "fac") (param i64) (result i64)
               (if (result i64) (i64.eqz (local.get 0))
                 (then (i64.const 1))
                 (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1))))))))"#,
    );
    assert!(module(&engine, "(module)").imports().is_empty());
    let out = instance
        .call(&mut store, "fac", &[Value::I64(20)], 5)
        .unwrap();
    assert_eq!(
        out,
        Outcome::Success {
            results: vec![Value::I64(2_432_902_008_176_640_000)],
            gas_used: 0
        }
    );
}

#[test]
fn module_describes_imports_and_exports() {
    let engine = Engine::default();
    let module = module(
        &engine,
        r#"(module
             (import "env" "log" (func (param i32 i32)))
             (import "env" "g" (global i64))
             (memory (export "memory") 2 5)
             (table (export "table") 1 externref)
             (global (export "counter") (mut i32) (i32.const 0))
             (func (export "run") (param f32) (result f64) f64.const 0))"#,
    );
    assert_eq!(
        module.imports(),
        [
            ImportType {
                module: "env".into(),
                name: "log".into(),
                ty: ExternType::Func(FuncType::new([ValType::I32, ValType::I32], []))
            },
            ImportType {
                module: "env".into(),
                name: "g".into(),
                ty: ExternType::Global(GlobalType {
                    content: ValType::I64,
                    mutable: false
                })
            }
        ]
    );
    assert_eq!(
        module.exports(),
        [
            ExportType {
                name: "memory".into(),
                ty: ExternType::Memory(MemoryType {
                    minimum: 2,
                    maximum: Some(5)
                })
            },
            ExportType {
                name: "table".into(),
                ty: ExternType::Table(TableType {
                    element: ValType::ExternRef,
                    minimum: 1,
                    maximum: None
                })
            },
            ExportType {
                name: "counter".into(),
                ty: ExternType::Global(GlobalType {
                    content: ValType::I32,
                    mutable: true
                })
            },
            ExportType {
                name: "run".into(),
                ty: ExternType::Func(FuncType::new([ValType::F32], [ValType::F64]))
            }
        ]
    );
    assert_eq!(
        module.export_func_type("run"),
        Some(&FuncType::new([ValType::F32], [ValType::F64]))
    );
    assert_eq!(module.export_func_type("memory"), None);
    assert_eq!(module.export_func_type("missing"), None);
}

#[test]
fn rejected_modules_keep_the_metering_error() {
    let engine = Engine::default();
    let err = Module::new(&engine, b"\0asm\x01\0\0\0\x01").unwrap_err();
    let rejected = err.as_rejected().expect("rejected");
    assert!(
        matches!(rejected.kind(), "malformed" | "invalid"),
        "{rejected:?}"
    );

    let forged =
        wat::parse_str(r#"(module (import "detvm" "gas_left" (global (mut i64))))"#).unwrap();
    let err = Module::new(&engine, &forged).unwrap_err();
    assert_eq!(
        err.as_rejected().map(MeteringError::kind),
        Some("import_not_allowed")
    );

    let limited = engine_with(|c| c.limits.memory_pages = 1);
    let err = Module::new(&limited, &wat::parse_str("(module (memory 2))").unwrap()).unwrap_err();
    assert_eq!(
        err.as_rejected().map(MeteringError::kind),
        Some("limit_exceeded")
    );
}

#[test]
fn host_created_items_are_usable() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let global = Global::new(
        &mut store,
        GlobalType {
            content: ValType::I32,
            mutable: true,
        },
        Value::I32(1),
    )
    .unwrap();
    assert!(
        Global::new(
            &mut store,
            GlobalType {
                content: ValType::I32,
                mutable: true
            },
            Value::I64(1)
        )
        .is_err()
    );
    global.set(&mut store, Value::I32(10)).unwrap();
    let constant = Global::new(
        &mut store,
        GlobalType {
            content: ValType::F64,
            mutable: false,
        },
        Value::F64(0),
    )
    .unwrap();
    assert!(constant.set(&mut store, Value::F64(1)).is_err());

    let table = Table::new(
        &mut store,
        TableType {
            element: ValType::ExternRef,
            minimum: 2,
            maximum: Some(3),
        },
        Value::ExternRef(Some(ExternRef::new(7))),
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker
        .define("host", "g", global)
        .define("host", "t", table);
    let instance = Instance::new(
        &mut store,
        &module(
            &engine,
            r#"(module
                 (import "host" "g" (global $g (mut i32)))
                 (import "host" "t" (table $t 2 3 externref))
                 (func (export "bump") (result i32)
                   (global.set $g (i32.add (global.get $g) (i32.const 1)))
                   (global.get $g))
                 (func (export "grow") (result i32)
                   (table.grow $t (ref.null extern) (i32.const 1)))
                 (func (export "get") (param i32) (result externref)
                   (table.get $t (local.get 0))))"#,
        ),
        &linker,
    )
    .unwrap();
    assert_eq!(
        results(call(&mut store, &instance, "bump", &[])),
        [Value::I32(11)]
    );
    assert_eq!(global.get(&store).unwrap(), Value::I32(11));
    assert_eq!(
        results(call(&mut store, &instance, "get", &[Value::I32(1)])),
        [Value::ExternRef(Some(ExternRef::new(7)))]
    );
    assert_eq!(
        results(call(&mut store, &instance, "grow", &[])),
        [Value::I32(2)]
    );
    assert_eq!(
        results(call(&mut store, &instance, "grow", &[])),
        [Value::I32(-1)]
    );
    assert_eq!(table.size(&store).unwrap(), 3);
    assert_eq!(table.get(&store, 2).unwrap(), Value::ExternRef(None));
}

#[test]
fn native_stack_too_small_is_refused() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(&engine, r#"(module (func (export "f")))"#);
    let result = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn_scoped(scope, || instance.call(&mut store, "f", &[], 100))
            .unwrap()
            .join()
            .unwrap()
    });
    match result {
        Err(Error::NativeStackTooSmall { needed, available }) => {
            assert_eq!(needed, store.native_stack_needed());
            assert!(needed >= 262_144 + native_stack::ENTRY_RESERVE);
            assert!(available < needed);
        }
        other => panic!("expected NativeStackTooSmall, got {other:?}"),
    }
    // The same call from a thread with enough stack succeeds.
    assert!(
        instance
            .call(&mut store, "f", &[], 100)
            .unwrap()
            .results()
            .is_some()
    );
}

#[test]
fn api_types_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Engine>();
    send_sync::<Module>();
    send_sync::<Linker<u64>>();
    send_sync::<Value>();
    send_sync::<Error>();
    send::<Store<Vec<u8>>>();

    // A module compiled on one thread runs on another.
    let engine = Engine::default();
    let module = module(
        &engine,
        r#"(module (func (export "f") (result i32) i32.const 3))"#,
    );
    let out = std::thread::spawn(move || {
        let mut store = Store::new(module.engine(), ());
        let instance = Instance::new(&mut store, &module, &Linker::new(module.engine())).unwrap();
        instance.call(&mut store, "f", &[], 100).unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(out.results(), Some(&[Value::I32(3)][..]));
}

/// What the host reads from a module instead of decoding its bytes again:
/// the same from a fresh compilation, with metering on or off, and from the
/// code cache.
#[test]
fn start_and_defined_memory_are_reported() {
    let cases = [
        ("(module)", false, 0),
        ("(module (memory 3) (func $s) (start $s))", true, 3),
        ("(module (memory 0 1) (func (export \"f\")))", false, 0),
        ("(module (memory 17))", false, 17),
    ];
    let dir = std::env::temp_dir().join(format!("detvm-facts-{}", std::process::id()));
    let cache = CodeCache::open(&dir, 1 << 24);
    for metering in [true, false] {
        let engine = engine_with(|c| c.metering = metering);
        for (i, (wat, start, pages)) in cases.into_iter().enumerate() {
            let bytes = wat::parse_str(wat).expect("wat");
            let (fresh, artifact) = Module::new_with_artifact(&engine, &bytes).expect("module");
            let key = CacheKey::new(&engine, &[i as u8; 32], b"facts");
            cache.put_module(&key, &artifact);
            let Some(Cached::Module(cached)) = cache.get(&engine, &key) else {
                panic!("{wat}: not cached");
            };
            for module in [&fresh, &cached] {
                assert_eq!(module.has_start(), start, "{wat}");
                assert_eq!(module.defined_memory_pages(), pages, "{wat}");
            }
        }
    }
    std::fs::remove_dir_all(&dir).expect("cache directory removed");
}
