//! Accesses bounded where their address is computed (`docs/vm.md`,
//! "Checks"): an address whose defining instructions bound it so that the
//! access ends within the memory's declared minimum needs no check. A bound
//! that is wrong by one is an unchecked access outside the memory, so the
//! file tests each rule at its exact limit (no check, and the largest
//! address works) and one byte past it (a check, and the largest address
//! traps), then compares random address expressions of every rule with
//! their Wasm meaning, computed here, under every configuration.

mod common;

use common::{call_i32, checks_per_function, every_config, instantiate};
use detvm_fixtures::Lcg;
use detvm_vm::{Engine, EngineConfig, Module};

/// Bytes the data segment puts at the start of memory (the rest is zero):
/// 0xff at 100 and 0xffff at 102, for the largest `load8_u` / `load16_u`
/// results, around a pattern.
fn memory_byte(address: u32) -> u8 {
    match address {
        100 | 102 | 103 => 0xff,
        0..=1023 => (address.wrapping_mul(31).wrapping_add(7) % 251) as u8,
        _ => 0,
    }
}

fn data_segment() -> String {
    (0..1024)
        .map(|a| format!("\\{:02x}", memory_byte(a)))
        .collect()
}

/// An address expression over `$x` (local 0) and `$c` (local 1), its
/// largest value, and an `$x` that reaches it (with `$c = 0`).
struct Rule {
    name: &'static str,
    expr: &'static str,
    bound: u32,
    x: u32,
}

const RULES: &[Rule] = &[
    Rule {
        name: "and_mask",
        expr: "(i32.and (local.get $x) (i32.const 0xfff))",
        bound: 0xfff,
        x: u32::MAX,
    },
    Rule {
        name: "mask_and",
        expr: "(i32.and (i32.const 0xff8) (local.get $x))",
        bound: 0xff8,
        x: u32::MAX,
    },
    Rule {
        name: "and_of_bounds",
        expr: "(i32.and (i32.load16_u (local.get $x)) (i32.const 0xfff))",
        bound: 0xfff,
        x: 102,
    },
    Rule {
        name: "constant",
        expr: "(i32.const 1000)",
        bound: 1000,
        x: 0,
    },
    Rule {
        name: "load8_u",
        expr: "(i32.load8_u (local.get $x))",
        bound: 0xff,
        x: 100,
    },
    Rule {
        name: "load16_u",
        expr: "(i32.load16_u (local.get $x))",
        bound: 0xffff,
        x: 102,
    },
    Rule {
        name: "shr_u_mod_32",
        expr: "(i32.shr_u (local.get $x) (i32.const 48))",
        bound: 0xffff,
        x: u32::MAX,
    },
    Rule {
        name: "shr_u_of_bound",
        expr: "(i32.shr_u (i32.and (local.get $x) (i32.const 0xfff0)) (i32.const 4))",
        bound: 0xfff,
        x: u32::MAX,
    },
    Rule {
        name: "rem_u",
        expr: "(i32.rem_u (local.get $x) (i32.const 1000))",
        bound: 999,
        x: 999,
    },
    Rule {
        name: "add",
        expr: "(i32.add (i32.and (local.get $x) (i32.const 0xff)) (i32.const 3000))",
        bound: 3255,
        x: u32::MAX,
    },
    Rule {
        name: "mul",
        expr: "(i32.mul (i32.and (local.get $x) (i32.const 0xff)) (i32.const 16))",
        bound: 4080,
        x: u32::MAX,
    },
    Rule {
        name: "shl_mod_32",
        expr: "(i32.shl (i32.and (local.get $x) (i32.const 0xff)) (i32.const 36))",
        bound: 4080,
        x: u32::MAX,
    },
    Rule {
        name: "select",
        expr: "(select (i32.and (local.get $x) (i32.const 0xff)) (i32.const 5000) (local.get $c))",
        bound: 5000,
        x: 0,
    },
];

const PAGE: u32 = 65536;

/// For each rule, `NAME_at` loads one byte at `expr + offset` ending
/// exactly at the memory's end when `expr` is at its bound, and
/// `NAME_past` one byte further.
fn rules_module() -> String {
    let mut funcs = String::new();
    for rule in RULES {
        let at = PAGE - 1 - rule.bound;
        for (suffix, offset) in [("at", at), ("past", at + 1)] {
            funcs.push_str(&format!(
                "(func (export \"{}_{suffix}\") (param $x i32) (param $c i32) (result i32)
                   (i32.load8_u offset={offset} {}))\n",
                rule.name, rule.expr
            ));
        }
    }
    format!(
        "(module (memory 1) (data (i32.const 0) \"{}\")\n{funcs})",
        data_segment()
    )
}

/// `name(x, c)`'s result as an unsigned number, or its trap's name.
fn call(
    instance: &detvm_vm::Instance,
    store: &mut detvm_vm::Store<()>,
    name: &str,
    x: u32,
    c: u32,
) -> Result<u32, &'static str> {
    let args = [x as i32, c as i32];
    call_i32(instance, store, name, &args, 1 << 40)
        .0
        .map(|v| v as u32)
}

#[test]
fn each_rule_is_exact_at_the_memory_end() {
    let bytes = wat::parse_str(rules_module()).expect("wat");
    for config in every_config() {
        let label = format!("{config:?}");
        let slots = config.slot_strategy_only;
        let engine = Engine::new(config).expect("engine");
        let checks = checks_per_function(&engine, &bytes);
        let (mut store, instance) = instantiate(&engine, &bytes);
        for (i, rule) in RULES.iter().enumerate() {
            // The rules built on a load check that load's own address.
            let inner = usize::from(rule.expr.contains("(i32.load"));
            if slots {
                // Values pass through stack slots: nothing is bounded.
                assert_eq!(checks[2 * i], inner + 1, "{} ({label})", rule.name);
            } else {
                assert_eq!(
                    checks[2 * i],
                    inner,
                    "{}_at: the bound covers the access ({label})",
                    rule.name
                );
                assert_eq!(
                    checks[2 * i + 1],
                    inner + 1,
                    "{}_past: one byte past the bound keeps its check ({label})",
                    rule.name
                );
            }
            let at = call(
                &instance,
                &mut store,
                &format!("{}_at", rule.name),
                rule.x,
                0,
            );
            assert_eq!(at, Ok(0), "{}_at reads the last byte ({label})", rule.name);
            let past = call(
                &instance,
                &mut store,
                &format!("{}_past", rule.name),
                rule.x,
                0,
            );
            assert_eq!(
                past,
                Err("memory_out_of_bounds"),
                "{}_past at the bound ({label})",
                rule.name
            );
        }
    }
}

/// An imported memory is at least its import's minimum, whatever its
/// exporter declared: a bound against that minimum holds in the larger
/// memory too, and one past it is still checked.
#[test]
fn an_imported_memory_bounds_by_its_import_minimum() {
    let exporter = wat::parse_str("(module (memory (export \"m\") 2))").expect("wat");
    let importer = wat::parse_str(
        "(module (import \"e\" \"m\" (memory 1))
           (func (export \"at\") (param i32 i32) (result i32)
             (i32.load offset=61437 (i32.and (local.get 0) (i32.const 0xfff))))
           (func (export \"past\") (param i32 i32) (result i32)
             (i32.load offset=61438 (i32.and (local.get 0) (i32.const 0xfff)))))",
    )
    .expect("wat");
    for config in every_config() {
        let expected = if config.slot_strategy_only {
            [1, 1]
        } else {
            [0, 1]
        };
        let engine = Engine::new(config).expect("engine");
        assert_eq!(checks_per_function(&engine, &importer), expected);
        let mut store = detvm_vm::Store::new(&engine, ());
        let exporter = Module::new(&engine, &exporter).expect("compiles");
        let linker = detvm_vm::Linker::new(&engine);
        let exported = detvm_vm::Instance::new(&mut store, &exporter, &linker).expect("instance");
        let memory = exported.get_memory(&store, "m").expect("exported memory");
        let mut linker = detvm_vm::Linker::new(&engine);
        linker.define("e", "m", memory);
        let importer = Module::new(&engine, &importer).expect("compiles");
        let instance = detvm_vm::Instance::new(&mut store, &importer, &linker).expect("instance");
        for name in ["at", "past"] {
            // 0xfff + offset + 4 is 65536 or 65537: inside two pages.
            assert_eq!(
                call(&instance, &mut store, name, u32::MAX, 0),
                Ok(0),
                "{name}"
            );
        }
    }
}

/// A module without a memory minimum has nothing to bound against.
#[test]
fn a_memory_of_no_pages_bounds_nothing() {
    let bytes = wat::parse_str(
        "(module (memory 0)
           (func (export \"f\") (param i32) (param i32) (result i32)
             (i32.load8_u (i32.const 0))))",
    )
    .expect("wat");
    for config in every_config() {
        let engine = Engine::new(config).expect("engine");
        assert_eq!(checks_per_function(&engine, &bytes), [1]);
        let (mut store, instance) = instantiate(&engine, &bytes);
        assert_eq!(
            call(&instance, &mut store, "f", 0, 0),
            Err("memory_out_of_bounds")
        );
    }
}

/// One of `values`, drawn from `rng`.
fn pick(rng: &mut Lcg, values: &[u32]) -> u32 {
    values[rng.below(values.len() as u32) as usize]
}

/// Values near every limit the rules compare against.
const EDGES: &[u32] = &[
    0,
    1,
    3,
    7,
    8,
    15,
    16,
    31,
    32,
    33,
    48,
    0xff,
    0x100,
    0xfff,
    0x1000,
    0xffff,
    0x10000,
    0x1_0001,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fff0,
    0xffff_ffff,
];

/// A random `i32` address expression and its meaning.
enum Expr {
    X,
    C,
    Const(u32),
    And(Box<Expr>, Box<Expr>),
    ShrU(Box<Expr>, u32),
    RemU(Box<Expr>, u32),
    Add(Box<Expr>, Box<Expr>),
    Mul(Box<Expr>, Box<Expr>),
    Shl(Box<Expr>, u32),
    Select(Box<Expr>, Box<Expr>),
    Load8(Box<Expr>),
    Load16(Box<Expr>),
}

impl Expr {
    fn random(rng: &mut Lcg, depth: u32) -> Self {
        if depth == 0 {
            return match rng.below(3) {
                0 => Self::X,
                1 => Self::C,
                _ => Self::Const(pick(rng, EDGES)),
            };
        }
        let sub = |rng: &mut Lcg| Box::new(Self::random(rng, depth - 1));
        match rng.below(11) {
            0 => Self::Const(pick(rng, EDGES)),
            1 => Self::And(sub(rng), sub(rng)),
            2 => Self::ShrU(sub(rng), pick(rng, EDGES)),
            3 => Self::RemU(sub(rng), pick(rng, EDGES)),
            4 => Self::Add(sub(rng), sub(rng)),
            5 => Self::Mul(sub(rng), sub(rng)),
            6 => Self::Shl(sub(rng), pick(rng, EDGES)),
            7 => Self::Select(sub(rng), sub(rng)),
            8 => Self::Load8(sub(rng)),
            9 => Self::Load16(sub(rng)),
            _ => Self::X,
        }
    }

    fn wat(&self) -> String {
        let c = |v: &u32| format!("(i32.const {})", *v as i32);
        match self {
            Self::X => "(local.get $x)".into(),
            Self::C => "(local.get $c)".into(),
            Self::Const(v) => c(v),
            Self::And(a, b) => format!("(i32.and {} {})", a.wat(), b.wat()),
            Self::ShrU(a, k) => format!("(i32.shr_u {} {})", a.wat(), c(k)),
            Self::RemU(a, k) => format!("(i32.rem_u {} {})", a.wat(), c(k)),
            Self::Add(a, b) => format!("(i32.add {} {})", a.wat(), b.wat()),
            Self::Mul(a, b) => format!("(i32.mul {} {})", a.wat(), b.wat()),
            Self::Shl(a, k) => format!("(i32.shl {} {})", a.wat(), c(k)),
            Self::Select(a, b) => format!("(select {} {} (local.get $c))", a.wat(), b.wat()),
            Self::Load8(a) => format!("(i32.load8_u {})", a.wat()),
            Self::Load16(a) => format!("(i32.load16_u {})", a.wat()),
        }
    }

    /// Wasm's meaning: operands left to right, the first trap wins.
    fn eval(&self, x: u32, c: u32) -> Result<u32, &'static str> {
        Ok(match self {
            Self::X => x,
            Self::C => c,
            Self::Const(v) => *v,
            Self::And(a, b) => a.eval(x, c)? & b.eval(x, c)?,
            Self::ShrU(a, k) => a.eval(x, c)? >> (k % 32),
            Self::RemU(a, k) => {
                let a = a.eval(x, c)?;
                a.checked_rem(*k).ok_or("integer_divide_by_zero")?
            }
            Self::Add(a, b) => a.eval(x, c)?.wrapping_add(b.eval(x, c)?),
            Self::Mul(a, b) => a.eval(x, c)?.wrapping_mul(b.eval(x, c)?),
            Self::Shl(a, k) => a.eval(x, c)? << (k % 32),
            Self::Select(a, b) => {
                let (a, b) = (a.eval(x, c)?, b.eval(x, c)?);
                if c != 0 { a } else { b }
            }
            Self::Load8(a) => u32::from(load(a.eval(x, c)?, 0, 1)?[0]),
            Self::Load16(a) => {
                let bytes = load(a.eval(x, c)?, 0, 2)?;
                u32::from(u16::from_le_bytes([bytes[0], bytes[1]]))
            }
        })
    }
}

/// `size` bytes at `address + offset` of the unchanged one-page memory.
fn load(address: u32, offset: u32, size: u32) -> Result<Vec<u8>, &'static str> {
    let start = u64::from(address) + u64::from(offset);
    if start + u64::from(size) > u64::from(PAGE) {
        return Err("memory_out_of_bounds");
    }
    Ok((start..start + u64::from(size))
        .map(|a| memory_byte(a as u32))
        .collect())
}

#[test]
fn random_address_expressions_mean_what_wasm_says() {
    let mut rng = Lcg::new(0x5eed_b0b5);
    let mut funcs = String::new();
    let mut cases = Vec::new();
    for i in 0..160 {
        let depth = 1 + rng.below(5);
        let expr = Expr::random(&mut rng, depth);
        // Offsets around the memory's end and the bounds the rules find.
        let offset = match rng.below(3) {
            0 => pick(&mut rng, EDGES) & 0xffff,
            1 => PAGE - 4 - rng.below(0x1100),
            _ => rng.below(PAGE + 8),
        };
        funcs.push_str(&format!(
            "(func (export \"f{i}\") (param $x i32) (param $c i32) (result i32)
               (i32.load offset={offset} {}))\n",
            expr.wat()
        ));
        cases.push((expr, offset));
    }
    let wat = format!(
        "(module (memory 1) (data (i32.const 0) \"{}\")\n{funcs})",
        data_segment()
    );
    let bytes = wat::parse_str(wat).expect("wat");
    let mut args: Vec<u32> = EDGES.to_vec();
    args.extend([100, 102, 999, 5000, 65532, 65535]);
    let mut elided = 0;
    for config in every_config() {
        let label = format!("{config:?}");
        let engine = Engine::new(config.clone()).expect("engine");
        let (mut store, instance) = instantiate(&engine, &bytes);
        for (i, (expr, offset)) in cases.iter().enumerate() {
            for &x in &args {
                for c in [0, 1] {
                    let expected = expr.eval(x, c).and_then(|a| {
                        let b = load(a, *offset, 4)?;
                        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    });
                    let got = call(&instance, &mut store, &format!("f{i}"), x, c);
                    assert_eq!(
                        got,
                        expected,
                        "f{i} = load offset={offset} {} at x={x:#x} c={c} ({label})",
                        expr.wat()
                    );
                }
            }
        }
        if is_reference(&config) {
            let loads: usize = cases
                .iter()
                .map(|(e, _)| 1 + e.wat().matches("load").count())
                .sum();
            let checks: usize = checks_per_function(&engine, &bytes).iter().sum();
            elided = loads - checks;
        }
    }
    // The expressions must exercise the rules, not only their absence.
    assert!(elided >= 20, "only {elided} checks left out");
}

fn is_reference(config: &EngineConfig) -> bool {
    config.metering && !config.slot_strategy_only
}
