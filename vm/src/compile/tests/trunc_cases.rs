//! Boundary cases of the eight trapping float-to-int truncations, shared by
//! the compiler's unit tests and `vm/tests/ops_traps.rs`. Traps are given by
//! their stable names.

#![allow(dead_code)]

const OVERFLOW: &str = "integer_overflow";
const INVALID: &str = "invalid_conversion_to_integer";

/// The eight operators: (name, source type, signed, 64-bit result).
pub const TRUNCATIONS: [(&str, &str, bool, bool); 8] = [
    ("i32.trunc_f32_s", "f32", true, false),
    ("i32.trunc_f32_u", "f32", false, false),
    ("i32.trunc_f64_s", "f64", true, false),
    ("i32.trunc_f64_u", "f64", false, false),
    ("i64.trunc_f32_s", "f32", true, true),
    ("i64.trunc_f32_u", "f32", false, true),
    ("i64.trunc_f64_s", "f64", true, true),
    ("i64.trunc_f64_u", "f64", false, true),
];

/// A trapping truncation's boundary cases: (input bits, expected outcome).
pub type Cases = Vec<(u64, Result<u64, &'static str>)>;

pub fn f32_cases(signed: bool, wide: bool) -> Cases {
    let b = |x: f32| u64::from(x.to_bits());
    let down = |x: f32| f32::from_bits(x.to_bits() - 1); // toward zero
    let away_neg = |x: f32| f32::from_bits(x.to_bits() + 1); // more negative
    let ovf = Err(OVERFLOW);
    let int = |v: i128| -> Result<u64, &'static str> {
        Ok(if wide {
            v as i64 as u64
        } else {
            u64::from(v as i32 as u32)
        })
    };
    let mut cases: Cases = vec![
        (b(f32::NAN), Err(INVALID)),
        (b(-f32::NAN), Err(INVALID)),
        (0x7fa0_0001, Err(INVALID)),
        (b(f32::INFINITY), ovf),
        (b(f32::NEG_INFINITY), ovf),
        (b(-0.0), int(0)),
        (b(down(1.0)), int(0)),
        (b(-0.75), int(0)),
    ];
    let (lo, hi): (f32, f32) = match (signed, wide) {
        (true, false) => (-2147483648.0, 2147483648.0),
        (false, false) => (-1.0, 4294967296.0),
        (true, true) => (-9223372036854775808.0, 9223372036854775808.0),
        (false, true) => (-1.0, 18446744073709551616.0),
    };
    cases.push((b(hi), ovf));
    cases.push((b(down(hi)), int(down(hi) as i128)));
    if signed {
        cases.push((b(lo), int(lo as i128)));
        cases.push((b(away_neg(lo)), ovf));
    } else {
        cases.push((b(lo), ovf));
        cases.push((b(down(lo)), int(0)));
    }
    cases
}

pub fn f64_cases(signed: bool, wide: bool) -> Cases {
    let b = |x: f64| x.to_bits();
    let down = |x: f64| f64::from_bits(x.to_bits() - 1);
    let away_neg = |x: f64| f64::from_bits(x.to_bits() + 1);
    let ovf = Err(OVERFLOW);
    let int = |v: i128| -> Result<u64, &'static str> {
        Ok(if wide {
            v as i64 as u64
        } else {
            u64::from(v as i32 as u32)
        })
    };
    let mut cases: Cases = vec![
        (b(f64::NAN), Err(INVALID)),
        (0xfff4_0000_0000_0001, Err(INVALID)),
        (b(f64::INFINITY), ovf),
        (b(f64::NEG_INFINITY), ovf),
        (b(-0.0), int(0)),
        (b(0.999), int(0)),
    ];
    match (signed, wide) {
        (true, false) => {
            cases.push((b(-2147483648.9), int(-2147483648)));
            cases.push((b(-2147483649.0), ovf));
            cases.push((b(2147483647.9), int(2147483647)));
            cases.push((b(2147483648.0), ovf));
        }
        (false, false) => {
            cases.push((b(down(-1.0)), int(0)));
            cases.push((b(-1.0), ovf));
            cases.push((b(4294967295.9), int(4294967295)));
            cases.push((b(4294967296.0), ovf));
        }
        (true, true) => {
            let lo = -9223372036854775808.0f64;
            let hi = 9223372036854775808.0f64;
            cases.push((b(lo), int(i128::from(i64::MIN))));
            cases.push((b(away_neg(lo)), ovf));
            cases.push((b(down(hi)), int(down(hi) as i128)));
            cases.push((b(hi), ovf));
        }
        (false, true) => {
            let hi = 18446744073709551616.0f64;
            cases.push((b(down(-1.0)), int(0)));
            cases.push((b(-1.0), ovf));
            cases.push((b(down(hi)), Ok(down(hi) as u64)));
            cases.push((b(hi), ovf));
        }
    }
    cases
}
