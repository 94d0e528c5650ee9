//! The `detvm` import module belongs to instrumentation. A contract may not
//! import from it, metered or not; and whether a decoded module is
//! instrumented is told by whoever decoded it (the engine instruments
//! exactly when metering is on), never guessed from its import names.

use detvm_vm::env::ModuleEnv;
use detvm_vm::*;

/// The four imports `metering::instrument` puts at the front, by name,
/// kind and type, written by hand.
const LOOKALIKE: &str = r#"(module
  (import "detvm" "out_of_gas" (func $out_of_gas))
  (import "detvm" "stack_overflow" (func $stack_overflow))
  (import "detvm" "gas_left" (global $gas (mut i64)))
  (import "detvm" "stack_left" (global $stack (mut i64)))
  (func (export "run") (result i64)
    (call $out_of_gas)
    (global.get $gas)))"#;

fn engine(metering: bool) -> Engine {
    let mut config = EngineConfig::default();
    config.metering = metering;
    Engine::new(config).expect("engine")
}

#[test]
fn a_contract_cannot_import_from_the_reserved_module() {
    let wasm = wat::parse_str(LOOKALIKE).expect("wat");
    for metering in [true, false] {
        let err = Module::new(&engine(metering), &wasm).expect_err("reserved");
        assert!(
            err.to_string().contains("reserved for instrumentation"),
            "metering {metering}: {err}"
        );
    }
}

#[test]
fn the_decoder_is_told_whether_a_module_is_instrumented() {
    let lookalike = wat::parse_str(LOOKALIKE).expect("wat");
    // Carrying the names does not make a module instrumented.
    let env = ModuleEnv::parse(&lookalike, false).expect("decodes");
    assert!(!env.instrumented);
    assert!(
        ModuleEnv::parse(&lookalike, true)
            .expect("decodes")
            .instrumented
    );
    // Told so, a module without the imports is refused, not miscompiled.
    let plain = wat::parse_str(r#"(module (func (export "f")))"#).expect("wat");
    assert!(
        !ModuleEnv::parse(&plain, false)
            .expect("decodes")
            .instrumented
    );
    let err = ModuleEnv::parse(&plain, true).expect_err("not instrumented");
    assert!(err.message.contains("detvm imports"), "{err}");
    // A metered engine instruments the module itself; the imports it adds
    // are not the module's imports to the embedder.
    let engine = engine(true);
    let module = Module::new(&engine, &plain).expect("compiles");
    assert!(
        module.imports().is_empty(),
        "the reserved imports stay hidden"
    );
}
