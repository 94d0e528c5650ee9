//! NaN results are canonical after arithmetic, and untouched by operations
//! that only move bits.

use super::harness::{Instance, OPTS};

const CANON32: u64 = 0x7fc0_0000;
const CANON64: u64 = 0x7ff8_0000_0000_0000;

/// NaN inputs with payloads, both signs, quiet and signalling.
const NANS32: [u32; 5] = [
    0x7fc0_0000,
    0xffc0_0000,
    0x7fa0_0001,
    0xff80_0001,
    0x7fff_ffff,
];
const NANS64: [u64; 5] = [
    0x7ff8_0000_0000_0000,
    0xfff8_0000_0000_0000,
    0x7ff4_0000_0000_0001,
    0xfff0_0000_0000_0001,
    0x7fff_ffff_ffff_ffff,
];

#[test]
fn arithmetic_results_are_canonical() {
    let wat = r#"(module
        (func (export "f32") (param f32 f32)
            (result f32 f32 f32 f32 f32 f32 f32 f32 f32 f32 f32 f32 f64)
            (f32.add (local.get 0) (local.get 1))
            (f32.sub (local.get 0) (local.get 1))
            (f32.mul (local.get 0) (local.get 1))
            (f32.div (local.get 0) (local.get 1))
            (f32.min (local.get 0) (local.get 1))
            (f32.max (local.get 0) (local.get 1))
            (f32.sqrt (local.get 0))
            (f32.ceil (local.get 0))
            (f32.floor (local.get 0))
            (f32.trunc (local.get 0))
            (f32.nearest (local.get 0))
            (f32.min (local.get 1) (local.get 0))
            (f64.promote_f32 (local.get 0)))
        (func (export "f64") (param f64 f64)
            (result f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f32)
            (f64.add (local.get 0) (local.get 1))
            (f64.sub (local.get 0) (local.get 1))
            (f64.mul (local.get 0) (local.get 1))
            (f64.div (local.get 0) (local.get 1))
            (f64.min (local.get 0) (local.get 1))
            (f64.max (local.get 0) (local.get 1))
            (f64.sqrt (local.get 0))
            (f64.ceil (local.get 0))
            (f64.floor (local.get 0))
            (f64.trunc (local.get 0))
            (f64.nearest (local.get 0))
            (f64.max (local.get 1) (local.get 0))
            (f32.demote_f64 (local.get 0)))
        (func (export "fresh32") (result f32 f32 f32 f32 f32)
            (f32.div (f32.const 0) (f32.const 0))
            (f32.sub (f32.const inf) (f32.const inf))
            (f32.mul (f32.const 0) (f32.const -inf))
            (f32.sqrt (f32.const -1))
            (f32.add (f32.const -inf) (f32.const inf)))
        (func (export "fresh64") (param f64) (result f64 f64 f64 f64)
            (f64.div (local.get 0) (local.get 0))
            (f64.sub (f64.const inf) (f64.const inf))
            (f64.mul (f64.const 0) (f64.const -inf))
            (f64.sqrt (f64.const -1))))"#;
    for opt in OPTS {
        let mut inst = Instance::new(wat, opt, Vec::new());
        for &n in &NANS32 {
            for other in [1.0f32.to_bits(), n, 0xff80_0000] {
                let r = inst
                    .call("f32", &[u64::from(n), u64::from(other)])
                    .expect("runs");
                assert_eq!(
                    r[..12],
                    [CANON32; 12],
                    "f32 ops on {n:#x}, {other:#x} at {opt:?}"
                );
                assert_eq!(r[12], CANON64, "promote {n:#x}");
            }
        }
        for &n in &NANS64 {
            for other in [1.0f64.to_bits(), n] {
                let r = inst.call("f64", &[n, other]).expect("runs");
                assert_eq!(r[..12], [CANON64; 12], "f64 ops on {n:#x} at {opt:?}");
                assert_eq!(r[12], CANON32, "demote {n:#x}");
            }
        }
        assert_eq!(inst.call("fresh32", &[]), Ok(vec![CANON32; 5]));
        assert_eq!(inst.call("fresh64", &[0]), Ok(vec![CANON64; 4]));
    }
}

#[test]
fn bit_moving_operations_keep_payloads() {
    let wat = r#"(module
        (memory 1)
        (global $g32 (mut f32) (f32.const 0))
        (global $g64 (mut f64) (f64.const 0))
        (global $k f32 (f32.const nan:0x200001))
        (func (export "f32") (param f32 f32 i32)
            (result f32 f32 f32 f32 i32 f32 f32 f32 f32 f32 f32)
            (local f32)
            (local.set 3 (local.get 0))
            (f32.store (i32.const 8) (local.get 0))
            (global.set $g32 (local.get 0))
            (f32.neg (local.get 0))
            (f32.abs (local.get 0))
            (f32.copysign (local.get 0) (local.get 1))
            (f32.reinterpret_i32 (i32.reinterpret_f32 (local.get 0)))
            (i32.reinterpret_f32 (local.get 0))
            (select (local.get 0) (local.get 1) (local.get 2))
            (local.get 3)
            (f32.load (i32.const 8))
            (global.get $g32)
            (f32.const -nan:0x7fffff)
            (global.get $k))
        (func (export "f64") (param f64 f64 i32) (result f64 f64 f64 f64 f64 f64 f64 f64)
            (f64.store offset=3 (i32.const 0) (local.get 0))
            (global.set $g64 (local.get 0))
            (f64.neg (local.get 0))
            (f64.abs (local.get 0))
            (f64.copysign (local.get 0) (local.get 1))
            (f64.reinterpret_i64 (i64.reinterpret_f64 (local.get 0)))
            (select (result f64) (local.get 0) (local.get 1) (local.get 2))
            (f64.load offset=3 (i32.const 0))
            (global.get $g64)
            (f64.const nan:0x4000000000001)))"#;
    for opt in OPTS {
        let mut inst = Instance::new(wat, opt, Vec::new());
        for &n in &NANS32 {
            let neg_one = u64::from((-1.0f32).to_bits());
            let r = inst.call("f32", &[u64::from(n), neg_one, 1]).expect("runs");
            let n64 = u64::from(n);
            assert_eq!(
                r,
                vec![
                    n64 ^ 0x8000_0000,
                    n64 & 0x7fff_ffff,
                    n64 | 0x8000_0000,
                    n64,
                    n64,
                    n64,
                    n64,
                    n64,
                    n64,
                    0xffff_ffff,
                    0x7fa0_0001,
                ],
                "{n:#x} at {opt:?}"
            );
            // And the other select arm, and a positive copysign.
            let r = inst
                .call("f32", &[u64::from(1.0f32.to_bits()), n64, 0])
                .expect("runs");
            assert_eq!(r[5], n64);
        }
        for &n in &NANS64 {
            let r = inst.call("f64", &[n, 1.0f64.to_bits(), 1]).expect("runs");
            assert_eq!(
                r,
                vec![
                    n ^ (1 << 63),
                    n & !(1 << 63),
                    n & !(1 << 63),
                    n,
                    n,
                    n,
                    n,
                    0x7ff4_0000_0000_0001,
                ],
                "{n:#x} at {opt:?}"
            );
        }
    }
}

/// The line of the first loop header in a function's CLIF text: the first
/// block some later line branches back to.
fn first_loop_header(lines: &[&str]) -> Option<usize> {
    let label_line = |block: &str| {
        lines.iter().position(|l| {
            l.strip_prefix(block)
                .is_some_and(|rest| rest.starts_with(':') || rest.starts_with('('))
        })
    };
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with(' '))
        .flat_map(|(at, l)| {
            l.split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|word| {
                    word.strip_prefix("block")
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                })
                .filter_map(move |block| label_line(block).filter(|&label| label < at))
                .collect::<Vec<_>>()
        })
        .min()
}

/// A loop that stores a computed float in two of its blocks canonicalises
/// it in each; the canonical NaN those selects pick is built once, before
/// the loop, not in every block that uses it (Cranelift rematerialises
/// float constants at each use), and what is stored is still canonical.
#[test]
fn the_canonical_nan_is_built_once_outside_loops() {
    for (ty, width, canonical, bits, nan) in [
        (
            "f32",
            4,
            "iconst.i32 0x7fc0_0000",
            CANON32,
            u64::from(NANS32[2]),
        ),
        (
            "f64",
            8,
            "iconst.i64 0x7ff8_0000_0000_0000",
            CANON64,
            NANS64[2],
        ),
    ] {
        let wat = format!(
            r#"(module
            (memory 1)
            (func (export "run") (param $x {ty}) (param $n i32)
                (local $i i32)
                (loop $next
                    (if (i32.and (local.get $i) (i32.const 1))
                        (then ({ty}.store (i32.const 0)
                            ({ty}.add (local.get $x) ({ty}.convert_i32_u (local.get $i)))))
                        (else ({ty}.store (i32.const 8)
                            ({ty}.mul (local.get $x) ({ty}.convert_i32_u (local.get $i))))))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $next (i32.lt_u (local.get $i) (local.get $n))))))"#
        );
        let bytes = wat::parse_str(&wat).expect("wat");
        let clif = super::harness::optimised_clif(&bytes).concat();
        let lines: Vec<&str> = clif.lines().collect();
        assert!(
            !clif.contains("const +NaN"),
            "{ty}: a NaN constant:\n{clif}"
        );
        let built: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].contains(canonical))
            .collect();
        let header = first_loop_header(&lines).expect("the function has a loop");
        assert!(
            built.len() == 1 && built[0] < header,
            "{ty}: the canonical NaN built at lines {built:?}, the loop starts at {header}:\n{clif}"
        );

        for opt in OPTS {
            let mut inst = Instance::new(&wat, opt, Vec::new());
            inst.call("run", &[nan, 2]).expect("runs");
            for at in [0, 8] {
                let mut stored = [0u8; 8];
                stored[..width].copy_from_slice(&inst.memory()[at..at + width]);
                assert_eq!(u64::from_le_bytes(stored), bits, "{ty} at {at}, {opt:?}");
            }
        }
    }
}
