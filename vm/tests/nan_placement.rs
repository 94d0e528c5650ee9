//! Where NaNs are canonicalised (`docs/vm.md`, "Floats"): every NaN an
//! arithmetic operator produces must look canonical at every place its
//! bits can be seen, and every other NaN must keep its bits there, under
//! both translation strategies, both optimisation levels, with metering
//! and without. Each export combines one producer of a float with one
//! observer of its bits; the expected bits come from the rule itself.

mod common;

use common::every_config;
use detvm_vm::{Engine, Instance, Linker, Module, Outcome, Store, ValType, Value};

/// A float type and what the test needs of it.
#[derive(Clone, Copy)]
struct Ty {
    name: &'static str,
    int: &'static str,
    other: &'static str,
    bits: u32,
    canonical: u64,
    /// A NaN with a payload, signalling, sign bit set: what neither x86 nor
    /// aarch64 produce by themselves.
    odd: u64,
    /// `odd` as a constant's text.
    odd_text: &'static str,
    one: u64,
}

const F32: Ty = Ty {
    name: "f32",
    int: "i32",
    other: "f64",
    bits: 32,
    canonical: 0x7fc0_0000,
    odd: 0xffa0_0001,
    odd_text: "-nan:0x200001",
    one: 0x3f80_0000,
};

const F64: Ty = Ty {
    name: "f64",
    int: "i64",
    other: "f32",
    bits: 64,
    canonical: 0x7ff8_0000_0000_0000,
    odd: 0xfff4_0000_0000_0001,
    odd_text: "-nan:0x4000000000001",
    one: 0x3ff0_0000_0000_0000,
};

impl Ty {
    fn sign(self) -> u64 {
        1 << (self.bits - 1)
    }
}

/// Whether a producer's NaN came from arithmetic (so it must look
/// canonical) or must keep its bits.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Arithmetic,
    /// With these bits.
    Kept(u64),
}

/// Producers of a NaN of type `t`, from the parameters `$odd` (t.odd),
/// `$inf` (+∞), `$zero`, `$neg` (−1). `{o}` is the other float type.
fn producers(t: Ty) -> Vec<(&'static str, String, Kind)> {
    let n = t.name;
    let o = t.other;
    let odd_other = if t.bits == 32 {
        "(f64.const -nan:0x4000000000001)"
    } else {
        "(f32.const -nan:0x200001)"
    };
    let mut v = vec![
        (
            "add_inf",
            format!("({n}.add (local.get $inf) ({n}.neg (local.get $inf)))"),
            Kind::Arithmetic,
        ),
        (
            "sub_inf",
            format!("({n}.sub (local.get $inf) (local.get $inf))"),
            Kind::Arithmetic,
        ),
        (
            "mul_zero_inf",
            format!("({n}.mul (local.get $zero) (local.get $inf))"),
            Kind::Arithmetic,
        ),
        (
            "div_zero",
            format!("({n}.div (local.get $zero) (local.get $zero))"),
            Kind::Arithmetic,
        ),
        (
            "sqrt_neg",
            format!("({n}.sqrt (local.get $neg))"),
            Kind::Arithmetic,
        ),
        (
            "add_odd",
            format!("({n}.add (local.get $odd) (local.get $neg))"),
            Kind::Arithmetic,
        ),
        (
            "sub_odd",
            format!("({n}.sub (local.get $neg) (local.get $odd))"),
            Kind::Arithmetic,
        ),
        (
            "mul_odd",
            format!("({n}.mul (local.get $odd) (local.get $odd))"),
            Kind::Arithmetic,
        ),
        (
            "div_odd",
            format!("({n}.div (local.get $inf) (local.get $odd))"),
            Kind::Arithmetic,
        ),
        (
            "min_odd",
            format!("({n}.min (local.get $neg) (local.get $odd))"),
            Kind::Arithmetic,
        ),
        (
            "max_odd",
            format!("({n}.max (local.get $odd) (local.get $inf))"),
            Kind::Arithmetic,
        ),
        (
            "ceil_odd",
            format!("({n}.ceil (local.get $odd))"),
            Kind::Arithmetic,
        ),
        (
            "floor_odd",
            format!("({n}.floor (local.get $odd))"),
            Kind::Arithmetic,
        ),
        (
            "trunc_odd",
            format!("({n}.trunc (local.get $odd))"),
            Kind::Arithmetic,
        ),
        (
            "nearest_odd",
            format!("({n}.nearest (local.get $odd))"),
            Kind::Arithmetic,
        ),
        (
            "sqrt_odd",
            format!("({n}.sqrt (local.get $odd))"),
            Kind::Arithmetic,
        ),
        (
            "convert_odd",
            format!(
                "(if (result {n}) (i32.const 1) (then ({n}.{}_{o} {odd_other})) (else (local.get $zero)))",
                if t.bits == 32 { "demote" } else { "promote" }
            ),
            Kind::Arithmetic,
        ),
        (
            "abs_of_arith",
            format!("({n}.abs ({n}.mul (local.get $odd) (local.get $zero)))"),
            Kind::Arithmetic,
        ),
        (
            "local_of_arith",
            format!("(local.tee $p ({n}.div (local.get $odd) (local.get $neg)))"),
            Kind::Arithmetic,
        ),
        ("param", "(local.get $odd)".to_string(), Kind::Kept(t.odd)),
        (
            "load",
            format!("({n}.load (i32.const 64))"),
            Kind::Kept(t.odd),
        ),
        (
            "const",
            format!(
                "({n}.reinterpret_{} ({}.const {}))",
                t.int, t.int, t.odd as i64
            ),
            Kind::Kept(t.odd),
        ),
        ("global", "(global.get $k)".to_string(), Kind::Kept(t.odd)),
        (
            "neg_of_param",
            format!("({n}.neg ({n}.neg (local.get $odd)))"),
            Kind::Kept(t.odd),
        ),
        (
            "abs_of_const",
            format!("({n}.abs ({n}.const {}))", t.odd_text),
            Kind::Kept(t.odd & !t.sign()),
        ),
        (
            "select_kept",
            "(select (local.get $odd) (local.get $inf) (i32.const 1))".to_string(),
            Kind::Kept(t.odd),
        ),
    ];
    // Written only here, so a loop-carried arithmetic local: pending.
    v.push((
        "loop_local",
        format!(
            "(local.set $p (local.get $zero))
             (loop $l
               (local.set $p ({n}.add (local.get $p) (local.get $odd)))
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $l (i32.lt_u (local.get $i) (i32.const 3))))
             (local.get $p)"
        ),
        Kind::Arithmetic,
    ));
    // `$m` keeps bits (it is written `$odd`) but holds a pending value
    // when a loop that never writes it opens: read inside the loop, the
    // value is still pending, and so is the loop's result.
    let pending_in_kept = format!(
        "(local.set $m (local.get $odd))
         (local.set $m ({n}.div (local.get $odd) (local.get $neg)))"
    );
    v.push((
        "held_in_loop",
        format!(
            "{pending_in_kept}
             (loop $l (result {n})
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (local.get $m)
               (br_if $l (i32.lt_u (local.get $i) (i32.const 3))))"
        ),
        Kind::Arithmetic,
    ));
    // The same local read after such a loop.
    v.push((
        "held_after_loop",
        format!(
            "{pending_in_kept}
             (loop $l
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $l (i32.lt_u (local.get $i) (i32.const 3))))
             (local.get $m)"
        ),
        Kind::Arithmetic,
    ));
    v
}

/// Observers of a value `{v}` of type `t`, each giving `t.int` bits: name,
/// body, and the bits seen for a value of bits `x`, given the `$c`
/// parameter (0 or 1) and the bits of `$odd`.
type Seen = fn(Ty, u64, i32) -> u64;

fn observers(t: Ty) -> Vec<(&'static str, String, Seen)> {
    let n = t.name;
    let i = t.int;
    let r = |e: &str| format!("({i}.reinterpret_{n} {e})");
    fn same(_: Ty, x: u64, _: i32) -> u64 {
        x
    }
    fn odd_unless(t: Ty, x: u64, c: i32) -> u64 {
        if c != 0 { x } else { t.odd }
    }
    fn canonical_if(t: Ty, x: u64, c: i32) -> u64 {
        if c != 0 { t.canonical } else { x }
    }
    vec![
        (
            "store",
            format!("({n}.store (i32.const 8) {{v}}) ({i}.load (i32.const 8))"),
            same,
        ),
        ("reinterpret", r("{v}"), same),
        ("neg", r(&format!("({n}.neg {{v}})")), |t, x, _| {
            x ^ t.sign()
        }),
        ("abs", r(&format!("({n}.abs {{v}})")), |t, x, _| {
            x & !t.sign()
        }),
        (
            "copysign_magnitude",
            r(&format!("({n}.copysign {{v}} (local.get $neg))")),
            |t, x, _| x | t.sign(),
        ),
        (
            "copysign_sign",
            r(&format!("({n}.copysign ({n}.const 1) {{v}})")),
            |t, x, _| t.one | (x & t.sign()),
        ),
        ("return", "{v}".to_string(), same),
        (
            "global",
            format!("(global.set $g {{v}}) {}", r("(global.get $g)")),
            same,
        ),
        ("call", "(call $id {v})".to_string(), same),
        (
            "call_indirect",
            "(call_indirect (type $see) {v} (i32.const 0))".to_string(),
            same,
        ),
        ("host", "(call $host {v})".to_string(), same),
        // A local that also holds kept bits.
        (
            "mixed_local",
            format!(
                "(local.set $m ({n}.load (i32.const 64))) (drop (local.get $m)) (local.set $m {{v}}) {}",
                r("(local.get $m)")
            ),
            same,
        ),
        (
            "mixed_tee",
            format!(
                "(local.set $m (local.get $odd)) {}",
                r("(local.tee $m {v})")
            ),
            same,
        ),
        // Written in a block, read after it.
        (
            "mixed_local_across_block",
            format!(
                "(local.set $m (local.get $odd)) (block (local.set $m {{v}}) (br_if 0 (local.get $c))) {}",
                r("(local.get $m)")
            ),
            same,
        ),
        (
            "mixed_local_across_loop",
            format!(
                "(local.set $m (local.get $odd)) (loop $l (local.set $m {{v}}) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const 2)))) {}",
                r("(local.get $m)")
            ),
            same,
        ),
        // Written in one arm of an `if`, read after it.
        (
            "mixed_local_across_if",
            format!(
                "(local.set $m (local.get $odd)) (if (local.get $c) (then (local.set $m {{v}}))) {}",
                r("(local.get $m)")
            ),
            odd_unless,
        ),
        // Written in an arm that returns: the other arm still holds the
        // kept bits.
        (
            "mixed_local_other_arm",
            format!(
                "(local.set $m (local.get $odd)) (if (result {i}) (i32.eqz (local.get $c)) (then (local.set $m {{v}}) (return ({i}.const 0))) (else {}))",
                r("(local.get $m)")
            ),
            |t, _, c| if c != 0 { t.odd } else { 0 },
        ),
        // Overwritten with kept bits before the next label.
        (
            "mixed_local_overwritten",
            format!(
                "(local.set $m {{v}}) (local.set $m (local.get $odd)) (block (br_if 0 (local.get $c))) {}",
                r("(local.get $m)")
            ),
            |t, _, _| t.odd,
        ),
        ("block", r(&format!("(block (result {n}) {{v}})")), same),
        ("br", r(&format!("(block (result {n}) {{v}} (br 0))")), same),
        (
            "br_if_mixed",
            r(&format!(
                "(block (result {n}) (drop (br_if 0 (local.get $odd) (i32.eqz (local.get $c)))) {{v}})"
            )),
            odd_unless,
        ),
        (
            "br_if_carried",
            r(&format!(
                "(block (result {n}) (br_if 0 {{v}} (local.get $c)))"
            )),
            same,
        ),
        (
            "if_mixed",
            r(&format!(
                "(if (result {n}) (local.get $c) (then {{v}}) (else (local.get $odd)))"
            )),
            odd_unless,
        ),
        (
            "if_param",
            r(&format!(
                "{{v}} (if (param {n}) (result {n}) (local.get $c) (then) (else))"
            )),
            same,
        ),
        (
            "if_no_else",
            format!(
                "{{v}} (if (param {n}) (result {n}) (local.get $c) (then ({n}.add (local.get $neg)))) ({i}.reinterpret_{n})"
            ),
            canonical_if,
        ),
        (
            "br_table",
            r(&format!(
                "(block (result {n}) (block (result {n}) {{v}} (local.get $c) (br_table 0 1)))"
            )),
            same,
        ),
        (
            "br_table_mixed",
            r(&format!(
                "(block (result {n}) (drop (block (result {n}) (local.get $odd) (local.get $c) (br_table 1 0))) {{v}})"
            )),
            odd_unless,
        ),
        (
            "select_mixed",
            r("(select {v} (local.get $odd) (local.get $c))"),
            odd_unless,
        ),
        ("select_both", r("(select {v} {v} (local.get $c))"), same),
        (
            "loop_param",
            r(&format!(
                "{{v}} (loop (param {n}) (result {n}) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if 0 (i32.lt_u (local.get $i) (i32.const 3))))"
            )),
            same,
        ),
    ]
}

/// The module: one export per producer and observer, all of type
/// `(odd, inf, zero, neg: t, c: i32) -> t.int` (`return` gives `t`).
fn module(t: Ty) -> (String, Vec<(String, Kind, Seen, bool)>) {
    let n = t.name;
    let i = t.int;
    let mut funcs = String::new();
    let mut exports = Vec::new();
    for (pname, produce, kind) in producers(t) {
        for (oname, observe, seen) in observers(t) {
            let name = format!("{pname}.{oname}");
            let is_return = oname == "return";
            let result = if is_return { n } else { i };
            let body = observe.replace("{v}", &produce);
            funcs += &format!(
                "(func (export \"{name}\") (param $odd {n}) (param $inf {n}) (param $zero {n}) (param $neg {n}) (param $c i32) (result {result})
                   (local $m {n}) (local $p {n}) (local $i i32)
                   {body})\n"
            );
            exports.push((name, kind, seen, is_return));
        }
    }
    let text = format!(
        r#"(module
  (type $see (func (param {n}) (result {i})))
  (import "env" "host" (func $host (type $see)))
  (memory 1)
  (data (i32.const 64) "{odd_bytes}")
  (global $g (mut {n}) ({n}.const 0))
  (global $k {n} ({n}.const {odd_text}))
  (table 1 funcref)
  (elem (i32.const 0) $id)
  (func $id (type $see) ({i}.reinterpret_{n} (local.get 0)))
  {funcs})"#,
        odd_text = t.odd_text,
        odd_bytes = t.odd.to_le_bytes()[..(t.bits / 8) as usize]
            .iter()
            .map(|b| format!("\\{b:02x}"))
            .collect::<String>(),
    );
    (text, exports)
}

fn bits(v: &Value) -> u64 {
    match *v {
        Value::I32(x) => u64::from(x as u32),
        Value::I64(x) => x as u64,
        Value::F32(x) => u64::from(x),
        Value::F64(x) => x,
        ref other => panic!("unexpected {other:?}"),
    }
}

fn check(t: Ty) {
    let (text, exports) = module(t);
    let bytes = wat::parse_str(&text).expect("wat");
    let mut failures = Vec::new();
    for config in every_config() {
        let label = format!(
            "{:?} slots={} metering={}",
            config.opt_level, config.slot_strategy_only, config.metering
        );
        let engine = Engine::new(config).expect("engine");
        let module = Module::new(&engine, &bytes).expect("compiles");
        let mut linker = Linker::new(&engine);
        let (ft, it) = if t.bits == 32 {
            (ValType::F32, ValType::I32)
        } else {
            (ValType::F64, ValType::I64)
        };
        linker.func("env", "host", &[ft], &[it], |_, args| {
            Ok(vec![match args[0] {
                Value::F32(b) => Value::I32(b as i32),
                Value::F64(b) => Value::I64(b as i64),
                _ => unreachable!("typed"),
            }])
        });
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &linker).expect("instantiates");
        let float = |b: u64| {
            if t.bits == 32 {
                Value::F32(b as u32)
            } else {
                Value::F64(b)
            }
        };
        for (name, kind, seen, _) in &exports {
            for c in [0, 1] {
                let args = [
                    float(t.odd),
                    float(if t.bits == 32 {
                        0x7f80_0000
                    } else {
                        0x7ff0_0000_0000_0000
                    }),
                    float(0),
                    float(t.one | t.sign()),
                    Value::I32(c),
                ];
                let results = match instance
                    .call(&mut store, name, &args, 1 << 40)
                    .expect("call")
                {
                    Outcome::Success { results, .. } => results,
                    Outcome::Trap { kind, .. } => panic!("{name}: trapped: {kind:?}"),
                };
                let x = match kind {
                    Kind::Arithmetic => t.canonical,
                    Kind::Kept(bits) => *bits,
                };
                let expected = seen(t, x, c);
                let got = bits(&results[0]);
                if got != expected {
                    failures.push(format!(
                        "{label}: {} {name} (c = {c}): {got:#x}, expected {expected:#x}",
                        t.name
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn f32_nans_are_canonical_where_seen_and_kept_bits_survive() {
    check(F32);
}

#[test]
fn f64_nans_are_canonical_where_seen_and_kept_bits_survive() {
    check(F64);
}
