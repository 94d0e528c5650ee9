//! Host functions: arguments and results, user data, memory access, gas
//! charging, and every way a host function can trap.

use detvm_vm::*;

const GUEST: &str = r#"
(module
  (import "env" "sum" (func $sum (param i32 i64) (result i64)))
  (import "env" "store" (func $store (param i32 i32)))
  (import "env" "load" (func $load (param i32 i32) (result i32)))
  (import "env" "charge" (func $charge (param i64)))
  (import "env" "fail" (func $fail))
  (import "env" "panic" (func $panic))
  (import "env" "bad_result" (func $bad_result (result i32)))
  (memory (export "mem") 1)
  (global $after (export "after") (mut i32) (i32.const 0))
  (func (export "sum") (param i32 i64) (result i64) (call $sum (local.get 0) (local.get 1)))
  (func (export "store") (param i32 i32)
    (call $store (local.get 0) (local.get 1))
    (global.set $after (i32.const 1)))
  (func (export "load") (param i32 i32) (result i32) (call $load (local.get 0) (local.get 1)))
  (func (export "charge") (param i64)
    (call $charge (local.get 0))
    (global.set $after (i32.const 2)))
  (func (export "fail") (call $fail) (global.set $after (i32.const 3)))
  (func (export "panic") (call $panic))
  (func (export "bad_result") (result i32) (call $bad_result))
  (func (export "write_then_store") (param i32 i32)
    (i32.store (i32.const 0) (i32.const 0x01020304))
    (call $store (local.get 0) (local.get 1))))
"#;

/// What the host functions record.
#[derive(Default)]
struct Host {
    calls: u32,
    seen: Vec<u8>,
    ignore_errors: bool,
}

fn setup(engine: &Engine) -> (Store<Host>, Instance) {
    let mut linker = Linker::<Host>::new(engine);
    linker
        .func(
            "env",
            "sum",
            &[ValType::I32, ValType::I64],
            &[ValType::I64],
            |caller, args| {
                caller.data_mut().calls += 1;
                let (Some(a), Some(b)) = (args[0].as_i32(), args[1].as_i64()) else {
                    return Err(HostError::message("bad arguments"));
                };
                Ok(vec![Value::I64(i64::from(a) + b)])
            },
        )
        .func(
            "env",
            "store",
            &[ValType::I32, ValType::I32],
            &[],
            |caller, args| {
                let offset = args[0].as_i32().unwrap_or_default() as u32;
                let len = args[1].as_i32().unwrap_or_default() as u32;
                // Lengths beyond a memory are out of bounds whatever their size.
                let bytes: Vec<u8> = (0..len.min(70_000))
                    .map(|i| (i as u8).wrapping_add(1))
                    .collect();
                let result = caller.memory_write(u64::from(offset), &bytes);
                if caller.data().ignore_errors {
                    return Ok(vec![]);
                }
                result.map(|()| vec![])
            },
        )
        .func(
            "env",
            "load",
            &[ValType::I32, ValType::I32],
            &[ValType::I32],
            |caller, args| {
                let offset = args[0].as_i32().unwrap_or_default() as u32;
                let len = args[1].as_i32().unwrap_or_default() as u32;
                let bytes = caller
                    .memory_read(u64::from(offset), u64::from(len))?
                    .to_vec();
                let total = bytes.iter().map(|&b| i32::from(b)).sum();
                caller.data_mut().seen = bytes;
                Ok(vec![Value::I32(total)])
            },
        )
        .func("env", "charge", &[ValType::I64], &[], |caller, args| {
            let result = caller.charge_gas(args[0].as_i64().unwrap_or_default() as u64);
            if caller.data().ignore_errors {
                return Ok(vec![]);
            }
            result.map(|()| vec![])
        })
        .func("env", "fail", &[], &[], |_, _| {
            Err(HostError::message("account not found"))
        })
        .func("env", "panic", &[], &[], |_, _| panic!("host bug"))
        .func("env", "bad_result", &[], &[ValType::I32], |_, _| {
            Ok(vec![Value::I64(1)])
        });
    let module = Module::new(engine, &wat::parse_str(GUEST).unwrap()).unwrap();
    let mut store = Store::new(engine, Host::default());
    let instance = Instance::new(&mut store, &module, &linker).unwrap();
    (store, instance)
}

const GAS: u64 = 1_000_000;

#[test]
fn host_function_arguments_results_and_data() {
    let engine = Engine::default();
    let (mut store, instance) = setup(&engine);
    let out = instance
        .call(
            &mut store,
            "sum",
            &[Value::I32(-5), Value::I64(1 << 40)],
            GAS,
        )
        .unwrap();
    assert_eq!(out.results(), Some(&[Value::I64((1 << 40) - 5)][..]));
    instance
        .call(&mut store, "sum", &[Value::I32(1), Value::I64(1)], GAS)
        .unwrap();
    assert_eq!(store.data().calls, 2);
}

#[test]
fn host_functions_read_and_write_memory() {
    let engine = Engine::default();
    let (mut store, instance) = setup(&engine);
    let out = instance
        .call(&mut store, "store", &[Value::I32(100), Value::I32(4)], GAS)
        .unwrap();
    assert!(out.results().is_some());
    let memory = instance.get_memory(&store, "mem").unwrap();
    assert_eq!(&memory.data(&store).unwrap()[100..104], &[1, 2, 3, 4]);
    let out = instance
        .call(&mut store, "load", &[Value::I32(101), Value::I32(3)], GAS)
        .unwrap();
    assert_eq!(out.results(), Some(&[Value::I32(2 + 3 + 4)][..]));
    assert_eq!(store.data().seen, [2, 3, 4]);
    // The last byte of memory is reachable; zero bytes at the end too.
    let out = instance
        .call(
            &mut store,
            "store",
            &[Value::I32(65_535), Value::I32(1)],
            GAS,
        )
        .unwrap();
    assert!(out.results().is_some());
    let out = instance
        .call(
            &mut store,
            "load",
            &[Value::I32(65_536), Value::I32(0)],
            GAS,
        )
        .unwrap();
    assert_eq!(out.results(), Some(&[Value::I32(0)][..]));
}

#[test]
fn host_memory_access_out_of_bounds_traps() {
    let engine = Engine::default();
    let (mut store, instance) = setup(&engine);
    for (offset, len) in [(65_535, 2), (-1, 1), (0, 65_537), (-1, -1)] {
        let out = instance
            .call(
                &mut store,
                "load",
                &[Value::I32(offset), Value::I32(len)],
                GAS,
            )
            .unwrap();
        assert_eq!(
            out.trap_kind(),
            Some(TrapKind::MemoryOutOfBounds),
            "{offset} {len}"
        );
        let out = instance
            .call(
                &mut store,
                "store",
                &[Value::I32(offset), Value::I32(len)],
                GAS,
            )
            .unwrap();
        assert_eq!(
            out.trap_kind(),
            Some(TrapKind::MemoryOutOfBounds),
            "{offset} {len}"
        );
    }
    assert_eq!(instance.get_global(&store, "after"), Some(Value::I32(0)));
    let memory = instance.get_memory(&store, "mem").unwrap();
    assert!(memory.data(&store).unwrap().iter().all(|&b| b == 0));

    // The trap sticks even if the host function ignores the error.
    store.data_mut().ignore_errors = true;
    let out = instance
        .call(
            &mut store,
            "write_then_store",
            &[Value::I32(65_535), Value::I32(2)],
            GAS,
        )
        .unwrap();
    assert_eq!(out.trap_kind(), Some(TrapKind::MemoryOutOfBounds));
    // State is as at the trap: the guest's own store happened.
    assert_eq!(
        &memory.data(&store).unwrap()[..4],
        &0x0102_0304u32.to_le_bytes()
    );
}

#[test]
fn host_gas_charges_share_the_call_gas() {
    let engine = Engine::default();
    let (mut store, instance) = setup(&engine);
    let base = instance
        .call(&mut store, "charge", &[Value::I64(0)], GAS)
        .unwrap();
    let charged = instance
        .call(&mut store, "charge", &[Value::I64(5_000)], GAS)
        .unwrap();
    assert!(base.results().is_some() && charged.results().is_some());
    assert_eq!(charged.gas_used() - base.gas_used(), 5_000);

    let out = instance
        .call(&mut store, "charge", &[Value::I64(GAS as i64)], GAS)
        .unwrap();
    assert_eq!(
        out,
        Outcome::Trap {
            kind: TrapKind::OutOfGas,
            message: None,
            gas_used: GAS
        }
    );
    assert_eq!(instance.get_global(&store, "after"), Some(Value::I32(2)));

    // Ignoring the error does not help the host function.
    store.data_mut().ignore_errors = true;
    instance.call(&mut store, "fail", &[], GAS).unwrap();
    let out = instance
        .call(&mut store, "charge", &[Value::I64(-1)], GAS)
        .unwrap();
    assert_eq!(out.trap_kind(), Some(TrapKind::OutOfGas));
    assert_eq!(out.gas_used(), GAS);
    assert_eq!(instance.get_global(&store, "after"), Some(Value::I32(2)));
}

#[test]
fn host_trap_carries_its_message() {
    let engine = Engine::default();
    let (mut store, instance) = setup(&engine);
    let out = instance.call(&mut store, "fail", &[], GAS).unwrap();
    match out {
        Outcome::Trap {
            kind,
            message,
            gas_used,
        } => {
            assert_eq!(kind, TrapKind::Host);
            assert_eq!(kind.name(), "host");
            assert_eq!(message.as_deref(), Some("account not found"));
            assert!(gas_used > 0 && gas_used < GAS);
        }
        other => panic!("expected a host trap, got {other:?}"),
    }
    assert_eq!(instance.get_global(&store, "after"), Some(Value::I32(0)));
    // A later successful call carries no stale message.
    let out = instance
        .call(&mut store, "sum", &[Value::I32(1), Value::I64(1)], GAS)
        .unwrap();
    assert!(out.results().is_some());
}

#[test]
fn host_panics_and_bad_results_become_host_traps() {
    let engine = Engine::default();
    let (mut store, instance) = setup(&engine);
    let out = instance.call(&mut store, "panic", &[], GAS).unwrap();
    let Outcome::Trap {
        kind: TrapKind::Host,
        message: Some(message),
        ..
    } = out
    else {
        panic!("expected a host trap, got {out:?}");
    };
    assert!(message.contains("host bug"), "{message}");
    let out = instance.call(&mut store, "bad_result", &[], GAS).unwrap();
    assert_eq!(out.trap_kind(), Some(TrapKind::Host));
}

#[test]
fn host_functions_work_without_metering() {
    let mut config = EngineConfig::default();
    config.metering = false;
    let engine = Engine::new(config).unwrap();
    let (mut store, instance) = setup(&engine);
    let out = instance
        .call(&mut store, "sum", &[Value::I32(2), Value::I64(3)], 0)
        .unwrap();
    assert_eq!(
        out,
        Outcome::Success {
            results: vec![Value::I64(5)],
            gas_used: 0
        }
    );
    let out = instance.call(&mut store, "fail", &[], 0).unwrap();
    assert_eq!(out.trap_kind(), Some(TrapKind::Host));
}

#[test]
fn host_functions_can_be_reexported_and_called_indirectly() {
    let engine = Engine::default();
    let mut linker = Linker::<u32>::new(&engine);
    linker.func(
        "env",
        "inc",
        &[ValType::I32],
        &[ValType::I32],
        |caller, args| {
            *caller.data_mut() += 1;
            Ok(vec![Value::I32(args[0].as_i32().unwrap_or_default() + 1)])
        },
    );
    let mut store = Store::new(&engine, 0u32);
    let first = Instance::new(
        &mut store,
        &Module::new(
            &engine,
            &wat::parse_str(
                r#"(module
                     (import "env" "inc" (func $inc (param i32) (result i32)))
                     (export "inc" (func $inc))
                     (table (export "tab") 1 funcref)
                     (elem (i32.const 0) $inc))"#,
            )
            .unwrap(),
        )
        .unwrap(),
        &linker,
    )
    .unwrap();
    let inc = first.get_func(&store, "inc").unwrap();
    let out = inc.call(&mut store, &[Value::I32(41)], GAS).unwrap();
    assert_eq!(out.results(), Some(&[Value::I32(42)][..]));

    let mut linker2 = Linker::<u32>::new(&engine);
    linker2.instance(&store, "first", &first).unwrap();
    let second = Instance::new(
        &mut store,
        &Module::new(
            &engine,
            &wat::parse_str(
                r#"(module
                     (import "first" "tab" (table 1 funcref))
                     (type $t (func (param i32) (result i32)))
                     (func (export "via_table") (param i32) (result i32)
                       (call_indirect (type $t) (local.get 0) (i32.const 0))))"#,
            )
            .unwrap(),
        )
        .unwrap(),
        &linker2,
    )
    .unwrap();
    let out = second
        .call(&mut store, "via_table", &[Value::I32(1)], GAS)
        .unwrap();
    assert_eq!(out.results(), Some(&[Value::I32(2)][..]));
    assert_eq!(*store.data(), 2);
}
