//! The determinism corpus: NaN producers and bit-movers, integer edge
//! cases, every trap kind the engine raises by itself, gas-heavy loops
//! (counted and not, exactly enough gas and one short), deep and infinite
//! recursion against the stack bound, memory growth and bulk operations.
//! Each call runs on a fresh instance, so every outcome depends on nothing
//! else. Moved here from the engine's own digest test, so the corpus a user
//! runs and the one CI checks are one.

use detvm_vm::{Engine, EngineConfig, Instance, Linker, Module, Outcome, Store, Value};

use crate::{Case, EngineError, Error, render_value};

const FLOATS: &str = r#"
(module
  (func (export "f32.add") (param f32 f32) (result f32) (f32.add (local.get 0) (local.get 1)))
  (func (export "f32.sub") (param f32 f32) (result f32) (f32.sub (local.get 0) (local.get 1)))
  (func (export "f32.mul") (param f32 f32) (result f32) (f32.mul (local.get 0) (local.get 1)))
  (func (export "f32.div") (param f32 f32) (result f32) (f32.div (local.get 0) (local.get 1)))
  (func (export "f32.min") (param f32 f32) (result f32) (f32.min (local.get 0) (local.get 1)))
  (func (export "f32.max") (param f32 f32) (result f32) (f32.max (local.get 0) (local.get 1)))
  (func (export "f32.sqrt") (param f32) (result f32) (f32.sqrt (local.get 0)))
  (func (export "f32.floor") (param f32) (result f32) (f32.floor (local.get 0)))
  (func (export "f32.ceil") (param f32) (result f32) (f32.ceil (local.get 0)))
  (func (export "f32.trunc") (param f32) (result f32) (f32.trunc (local.get 0)))
  (func (export "f32.nearest") (param f32) (result f32) (f32.nearest (local.get 0)))
  (func (export "f32.neg") (param f32) (result f32) (f32.neg (local.get 0)))
  (func (export "f32.abs") (param f32) (result f32) (f32.abs (local.get 0)))
  (func (export "f32.copysign") (param f32 f32) (result f32) (f32.copysign (local.get 0) (local.get 1)))
  (func (export "f32.demote") (param f64) (result f32) (f32.demote_f64 (local.get 0)))
  (func (export "f64.add") (param f64 f64) (result f64) (f64.add (local.get 0) (local.get 1)))
  (func (export "f64.mul") (param f64 f64) (result f64) (f64.mul (local.get 0) (local.get 1)))
  (func (export "f64.div") (param f64 f64) (result f64) (f64.div (local.get 0) (local.get 1)))
  (func (export "f64.min") (param f64 f64) (result f64) (f64.min (local.get 0) (local.get 1)))
  (func (export "f64.max") (param f64 f64) (result f64) (f64.max (local.get 0) (local.get 1)))
  (func (export "f64.sqrt") (param f64) (result f64) (f64.sqrt (local.get 0)))
  (func (export "f64.nearest") (param f64) (result f64) (f64.nearest (local.get 0)))
  (func (export "f64.promote") (param f32) (result f64) (f64.promote_f32 (local.get 0)))
  (func (export "f64.neg") (param f64) (result f64) (f64.neg (local.get 0)))
  (func (export "i32.reinterpret") (param f32) (result i32) (i32.reinterpret_f32 (local.get 0)))
  (func (export "i32.trunc_sat") (param f32) (result i32) (i32.trunc_sat_f32_s (local.get 0)))
  (func (export "i64.trunc_sat_u") (param f64) (result i64) (i64.trunc_sat_f64_u (local.get 0)))
  (func (export "f32.convert_i64_u") (param i64) (result f32) (f32.convert_i64_u (local.get 0)))
  (func (export "f64.convert_i64_s") (param i64) (result f64) (f64.convert_i64_s (local.get 0)))
  ;; A NaN produced by arithmetic, then stored and loaded: storage keeps bits.
  (memory 1)
  (func (export "nan_roundtrip") (result i64)
    (f64.store (i32.const 8) (f64.div (f64.const 0) (f64.const 0)))
    (i64.load (i32.const 8)))
)
"#;

const INTEGERS: &str = r#"
(module
  (func (export "i32.div_s") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "i32.rem_s") (param i32 i32) (result i32) (i32.rem_s (local.get 0) (local.get 1)))
  (func (export "i64.div_u") (param i64 i64) (result i64) (i64.div_u (local.get 0) (local.get 1)))
  (func (export "i32.rotl") (param i32 i32) (result i32) (i32.rotl (local.get 0) (local.get 1)))
  (func (export "i64.shr_s") (param i64 i64) (result i64) (i64.shr_s (local.get 0) (local.get 1)))
  (func (export "i32.clz") (param i32) (result i32) (i32.clz (local.get 0)))
  (func (export "i64.ctz") (param i64) (result i64) (i64.ctz (local.get 0)))
  (func (export "i64.popcnt") (param i64) (result i64) (i64.popcnt (local.get 0)))
  (func (export "i32.extend8_s") (param i32) (result i32) (i32.extend8_s (local.get 0)))
  (func (export "i32.trunc_f32_s") (param f32) (result i32) (i32.trunc_f32_s (local.get 0)))
  (func (export "i64.trunc_f64_u") (param f64) (result i64) (i64.trunc_f64_u (local.get 0)))
)
"#;

const TRAPS: &str = r#"
(module
  (type $unary (func (param i32) (result i32)))
  (table 4 funcref)
  (elem (i32.const 0) $double)
  (memory 1 2)
  (func $double (type $unary) (i32.mul (local.get 0) (i32.const 2)))
  (func $nullary (result i32) (i32.const 7))
  (elem declare func $nullary)
  (func (export "unreachable") (unreachable))
  (func (export "load") (param i32) (result i32) (i32.load offset=4 (local.get 0)))
  (func (export "call_indirect") (param $index i32) (param $arg i32) (result i32)
    (call_indirect (type $unary) (local.get $arg) (local.get $index)))
  (func (export "table.get") (param i32) (result funcref) (table.get 0 (local.get 0)))
  (func (export "wrong_type") (result i32)
    (table.set 0 (i32.const 1) (ref.func $nullary))
    (call_indirect (type $unary) (i32.const 5) (i32.const 1)))
  (func (export "memory.fill") (param i32 i32) (memory.fill (local.get 0) (i32.const 1) (local.get 1)))
)
"#;

const GAS: &str = r#"
(module
  (memory 1 4)
  (func (export "sum") (param $n i64) (result i64) (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i64.eqz (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (local.get $n)))
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        (br $next)))
    (local.get $acc))
  (func $fac (export "fac") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
  (func $forever (export "recurse_forever") (param i32) (result i32)
    (i32.add (call $forever (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "spin") (loop $l (br $l)))
  (func (export "count") (param $n i32) (result i32) (local $i i32) (local $acc i32)
    (loop $next
      (local.set $acc
        (i32.add (i32.mul (local.get $acc) (i32.const 31)) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc))
  (func (export "count_down") (param $n i32) (result i32) (local $acc i32)
    (loop $next
      (local.set $acc (i32.xor (i32.rotl (local.get $acc) (i32.const 5)) (local.get $n)))
      (br_if $next (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $acc))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "fill") (param i32) (result i32)
    (memory.fill (i32.const 0) (i32.const 7) (local.get 0))
    (i32.load8_u (i32.const 100)))
)
"#;

fn f32(bits: u32) -> Value {
    Value::F32(bits)
}
fn f64(bits: u64) -> Value {
    Value::F64(bits)
}

/// A NaN with a non-canonical payload and the sign bit set: arithmetic must
/// canonicalise it, bit-moving operations must keep it.
const F32_ODD_NAN: u32 = 0xffa0_0001;
const F64_ODD_NAN: u64 = 0xfff4_0000_0000_0001;
const F32_INF: u32 = 0x7f80_0000;
const F64_INF: u64 = 0x7ff0_0000_0000_0000;

type CallCase = (&'static str, Vec<Value>, u64);

fn float_cases() -> Vec<CallCase> {
    let g = 1_000_000;
    vec![
        ("f32.add", vec![f32(F32_ODD_NAN), f32(0x3f80_0000)], g),
        ("f32.sub", vec![f32(F32_INF), f32(F32_INF)], g),
        ("f32.mul", vec![f32(0), f32(F32_INF)], g),
        ("f32.div", vec![f32(0), f32(0)], g),
        ("f32.div", vec![f32(0x3f80_0000), f32(0x8000_0000)], g),
        ("f32.min", vec![f32(0x8000_0000), f32(0)], g),
        ("f32.min", vec![f32(F32_ODD_NAN), f32(0)], g),
        ("f32.max", vec![f32(0), f32(0x8000_0000)], g),
        ("f32.max", vec![f32(0x3f80_0000), f32(F32_ODD_NAN)], g),
        ("f32.sqrt", vec![f32(0xbf80_0000)], g),
        ("f32.floor", vec![f32(F32_ODD_NAN)], g),
        ("f32.ceil", vec![f32(0xbf00_0000)], g),
        ("f32.trunc", vec![f32(F32_ODD_NAN)], g),
        ("f32.nearest", vec![f32(0x4020_0000)], g),
        ("f32.nearest", vec![f32(0x3fc0_0000)], g),
        ("f32.nearest", vec![f32(F32_ODD_NAN)], g),
        ("f32.neg", vec![f32(F32_ODD_NAN)], g),
        ("f32.abs", vec![f32(F32_ODD_NAN)], g),
        ("f32.copysign", vec![f32(F32_ODD_NAN), f32(0)], g),
        ("f32.demote", vec![f64(F64_ODD_NAN)], g),
        ("f32.demote", vec![f64(0x3ff0_0000_0000_0001)], g),
        ("f64.add", vec![f64(F64_ODD_NAN), f64(0)], g),
        ("f64.mul", vec![f64(F64_INF), f64(0)], g),
        ("f64.div", vec![f64(0), f64(0)], g),
        ("f64.min", vec![f64(0), f64(0x8000_0000_0000_0000)], g),
        ("f64.max", vec![f64(F64_ODD_NAN), f64(F64_INF)], g),
        ("f64.sqrt", vec![f64(0xbff0_0000_0000_0000)], g),
        ("f64.nearest", vec![f64(0xc004_0000_0000_0000)], g),
        ("f64.promote", vec![f32(F32_ODD_NAN)], g),
        ("f64.neg", vec![f64(F64_ODD_NAN)], g),
        ("i32.reinterpret", vec![f32(F32_ODD_NAN)], g),
        ("i32.trunc_sat", vec![f32(F32_ODD_NAN)], g),
        ("i32.trunc_sat", vec![f32(0xcf00_0001)], g),
        ("i64.trunc_sat_u", vec![f64(F64_INF)], g),
        ("f32.convert_i64_u", vec![Value::I64(-1)], g),
        ("f64.convert_i64_s", vec![Value::I64(i64::MIN + 1)], g),
        ("nan_roundtrip", vec![], g),
    ]
}

fn integer_cases() -> Vec<CallCase> {
    let g = 1_000_000;
    vec![
        ("i32.div_s", vec![Value::I32(-7), Value::I32(2)], g),
        ("i32.div_s", vec![Value::I32(1), Value::I32(0)], g),
        ("i32.div_s", vec![Value::I32(i32::MIN), Value::I32(-1)], g),
        ("i32.rem_s", vec![Value::I32(i32::MIN), Value::I32(-1)], g),
        ("i64.div_u", vec![Value::I64(-1), Value::I64(3)], g),
        ("i32.rotl", vec![Value::I32(0x1234_5678), Value::I32(36)], g),
        ("i64.shr_s", vec![Value::I64(i64::MIN), Value::I64(65)], g),
        ("i32.clz", vec![Value::I32(0)], g),
        ("i64.ctz", vec![Value::I64(0)], g),
        ("i64.popcnt", vec![Value::I64(-1)], g),
        ("i32.extend8_s", vec![Value::I32(0x80)], g),
        ("i32.trunc_f32_s", vec![f32(F32_ODD_NAN)], g),
        ("i32.trunc_f32_s", vec![f32(0x4f00_0000)], g),
        ("i32.trunc_f32_s", vec![f32(0xcf00_0000)], g),
        ("i64.trunc_f64_u", vec![f64(0xbfef_ffff_ffff_ffff)], g),
        ("i64.trunc_f64_u", vec![f64(0xbff0_0000_0000_0000)], g),
    ]
}

fn trap_cases() -> Vec<CallCase> {
    let g = 1_000_000;
    vec![
        ("unreachable", vec![], g),
        ("load", vec![Value::I32(65_532)], g),
        ("load", vec![Value::I32(65_528)], g),
        ("load", vec![Value::I32(-1)], g),
        // (table index, argument): a hit, a null slot, past the end.
        ("call_indirect", vec![Value::I32(0), Value::I32(21)], g),
        ("call_indirect", vec![Value::I32(2), Value::I32(21)], g),
        ("call_indirect", vec![Value::I32(9), Value::I32(21)], g),
        ("table.get", vec![Value::I32(4)], g),
        ("wrong_type", vec![], g),
        (
            "memory.fill",
            vec![Value::I32(65_000), Value::I32(1_000)],
            g,
        ),
    ]
}

fn gas_cases() -> Vec<CallCase> {
    vec![
        ("sum", vec![Value::I64(100_000)], 100_000_000),
        ("sum", vec![Value::I64(100_000)], 50_000),
        ("fac", vec![Value::I64(20)], 1_000_000),
        ("fac", vec![Value::I64(1_000)], 1_000_000),
        ("recurse_forever", vec![Value::I32(0)], 1_000_000_000),
        ("recurse_forever", vec![Value::I32(0)], 10_000),
        ("spin", vec![], 123_457),
        // Counted loops (`docs/vm.md`): gas exactly enough for every
        // iteration, one short, far too little, and a trip count of 2^32.
        ("count", vec![Value::I32(1_000)], 17_003),
        ("count", vec![Value::I32(1_000)], 17_002),
        ("count", vec![Value::I32(100_000)], 1_000_000_000),
        ("count", vec![Value::I32(100_000)], 9_999),
        ("count", vec![Value::I32(0)], 1_000),
        ("count", vec![Value::I32(-1)], 1_000_000),
        ("count_down", vec![Value::I32(1_000)], 12_002),
        ("count_down", vec![Value::I32(1_000)], 12_001),
        ("count_down", vec![Value::I32(0)], 1_000_000),
        ("grow", vec![Value::I32(1)], 1_000_000),
        ("grow", vec![Value::I32(4)], 1_000_000),
        ("grow", vec![Value::I32(-1)], 1_000_000),
        ("fill", vec![Value::I32(65_536)], 100_000_000),
        ("fill", vec![Value::I32(65_536)], 1_000),
    ]
}

/// Deep frames against the stack bound: recursion with many locals (big
/// frames), and a chain of distinct functions.
const STACK: &str = r#"
(module
  (func $wide (export "wide") (param $n i32) (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 f64 f64 f64 f64 f64 f64 f64 f64)
    (local.set 1 (i64.extend_i32_u (local.get $n)))
    (if (result i64) (i32.eqz (local.get $n))
      (then (i64.const 0))
      (else
        (i64.add (local.get 1)
          (call $wide (i32.sub (local.get $n) (i32.const 1)))))))
  (func $a (param i32) (result i32) (call $b (i32.add (local.get 0) (i32.const 1))))
  (func $b (param i32) (result i32) (call $c (i32.mul (local.get 0) (i32.const 3))))
  (func $c (param i32) (result i32)
    (if (result i32) (i32.gt_u (local.get 0) (i32.const 1000000000))
      (then (local.get 0))
      (else (call $a (local.get 0)))))
  (func (export "chain") (param i32) (result i32) (call $a (local.get 0)))
)
"#;

fn stack_cases() -> Vec<CallCase> {
    vec![
        ("wide", vec![Value::I32(10)], 1_000_000),
        ("wide", vec![Value::I32(1_000)], 100_000_000),
        ("wide", vec![Value::I32(1_000_000)], 1_000_000_000),
        ("chain", vec![Value::I32(1)], 1_000_000),
        ("chain", vec![Value::I32(0)], 1_000_000_000),
    ]
}

/// Byte order and argument widths, where a big-endian CPU or a calling
/// convention that leaves narrow values' upper bits undefined would
/// diverge: stored values read back byte by byte, globals of every type
/// written and read by compiled code, and builtins (`memory.fill`,
/// `memory.copy`, `table.fill`) given `i32` operands made by wrapping
/// `i64`s with high bits set.
const ENDIAN: &str = r#"
(module
  (memory 1)
  (table 8 funcref)
  (global $g32 (mut i32) (i32.const 0x01020304))
  (global $g64 (mut i64) (i64.const 0x0102030405060708))
  (global $gf32 (mut f32) (f32.const 1.5))
  (global $gf64 (mut f64) (f64.const -2.25))
  (func (export "bytes_of_i64") (param i64) (result i32)
    (i64.store (i32.const 16) (local.get 0))
    ;; byte 0 and byte 7, as a little-endian machine sees them
    (i32.or
      (i32.load8_u (i32.const 16))
      (i32.shl (i32.load8_u (i32.const 23)) (i32.const 8))))
  (func (export "i16_halves") (param i32) (result i32)
    (i32.store (i32.const 32) (local.get 0))
    (i32.sub (i32.load16_u (i32.const 32)) (i32.load16_s (i32.const 34))))
  (func (export "globals") (param i32 i64 f32 f64) (result i64)
    (global.set $g32 (i32.add (global.get $g32) (local.get 0)))
    (global.set $g64 (i64.xor (global.get $g64) (local.get 1)))
    (global.set $gf32 (f32.add (global.get $gf32) (local.get 2)))
    (global.set $gf64 (f64.mul (global.get $gf64) (local.get 3)))
    (i64.add
      (i64.add (i64.extend_i32_u (global.get $g32)) (global.get $g64))
      (i64.add
        (i64.extend_i32_u (i32.reinterpret_f32 (global.get $gf32)))
        (i64.reinterpret_f64 (global.get $gf64)))))
  (func (export "fill_wrapped") (param i64 i64) (result i32)
    (memory.fill (i32.wrap_i64 (local.get 0)) (i32.const 0xab) (i32.wrap_i64 (local.get 1)))
    (i32.add (i32.load8_u (i32.const 100)) (i32.load8_u (i32.const 163))))
  (func (export "copy_wrapped") (param i64 i64 i64) (result i64)
    (i64.store (i32.const 200) (i64.const 0x1122334455667788))
    (memory.copy (i32.wrap_i64 (local.get 0)) (i32.wrap_i64 (local.get 1)) (i32.wrap_i64 (local.get 2)))
    (i64.load (i32.const 300)))
  (func $f (result i32) (i32.const 9))
  (elem declare func $f)
  (func (export "table_fill_wrapped") (param i64 i64) (result i32)
    (table.fill (i32.wrap_i64 (local.get 0)) (ref.func $f) (i32.wrap_i64 (local.get 1)))
    (i32.add (ref.is_null (table.get (i32.const 2))) (ref.is_null (table.get (i32.const 6)))))
)
"#;

fn endian_cases() -> Vec<CallCase> {
    let g = 1_000_000;
    let high = |low: i64| Value::I64(low | (0x7fff_0000_i64 << 32));
    vec![
        ("bytes_of_i64", vec![Value::I64(0x0102_0304_0506_0708)], g),
        ("i16_halves", vec![Value::I32(0x8001_7ffe_u32 as i32)], g),
        (
            "globals",
            vec![
                Value::I32(5),
                Value::I64(-1),
                f32(0x4000_0000),
                f64(0x4000_0000_0000_0000),
            ],
            g,
        ),
        ("fill_wrapped", vec![high(100), high(64)], g),
        ("fill_wrapped", vec![high(65_500), high(100)], g),
        ("copy_wrapped", vec![high(300), high(200), high(8)], g),
        ("copy_wrapped", vec![high(300), high(65_530), high(8)], g),
        ("table_fill_wrapped", vec![high(1), high(3)], g),
        ("table_fill_wrapped", vec![high(6), high(3)], g),
    ]
}

/// The corpus as cases, one per call: `suite.export(args) gas_limit=g`,
/// run on `engine`.
pub fn cases(engine: &Engine) -> Result<Vec<Case>, Error> {
    let suites: [(&str, &str, Vec<CallCase>); 6] = [
        ("floats", FLOATS, float_cases()),
        ("integers", INTEGERS, integer_cases()),
        ("traps", TRAPS, trap_cases()),
        ("gas", GAS, gas_cases()),
        ("stack", STACK, stack_cases()),
        ("endian", ENDIAN, endian_cases()),
    ];
    let mut out = Vec::new();
    for (suite, wat, calls) in suites {
        let bytes = wat::parse_str(wat).map_err(|e| Error::Corpus(format!("{suite}: {e}")))?;
        let module =
            Module::new(engine, &bytes).map_err(|e| Error::Corpus(format!("{suite}: {e}")))?;
        for (export, args, gas) in calls {
            let mut store = Store::new(engine, ());
            let instance = Instance::new(&mut store, &module, &Linker::new(engine))
                .map_err(|e| Error::Corpus(format!("{suite}: {e}")))?;
            let rendered: Vec<String> = args.iter().map(render_value).collect();
            let name = format!("{suite}.{export}({}) gas_limit={gas}", rendered.join(" "));
            let outcome = instance
                .call(&mut store, export, &args, gas)
                .map_err(|source| {
                    Error::Engine(EngineError::Call {
                        case: name.clone(),
                        source,
                    })
                })?;
            let result = match outcome {
                Outcome::Success { results, gas_used } => {
                    let results: Vec<String> = results.iter().map(render_value).collect();
                    format!("ok [{}] gas={gas_used}", results.join(" "))
                }
                Outcome::Trap { kind, gas_used, .. } => {
                    format!("trap {} gas={gas_used}", kind.name())
                }
            };
            out.push(Case::new(name, result));
        }
    }
    Ok(out)
}

/// The engine the corpus runs on: the default configuration (metering
/// on), or with every function through the slot translation strategy.
pub fn engine(slot_strategy_only: bool) -> Result<Engine, Error> {
    let mut config = EngineConfig::default();
    config.slot_strategy_only = slot_strategy_only;
    Engine::new(config).map_err(|e| Error::Engine(EngineError::Vm(e)))
}
