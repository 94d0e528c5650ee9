//! Converting script literals to engine values and matching results against
//! expectations.

use detvm_vm::{ExternRef, Value};
use wast::core::{HeapType, NanPattern, WastArgCore, WastRetCore};
use wast::{WastArg, WastRet};

/// Converts an `invoke` argument. `None` for argument kinds outside the
/// profile (vectors, GC references): such a directive cannot run here.
pub(crate) fn arg_value(arg: &WastArg<'_>) -> Option<Value> {
    let WastArg::Core(core) = arg else {
        return None;
    };
    Some(match core {
        WastArgCore::I32(v) => Value::I32(*v),
        WastArgCore::I64(v) => Value::I64(*v),
        WastArgCore::F32(v) => Value::F32(v.bits),
        WastArgCore::F64(v) => Value::F64(v.bits),
        WastArgCore::RefNull(HeapType::Abstract {
            ty: wast::core::AbstractHeapType::Func,
            ..
        }) => Value::FuncRef(None),
        WastArgCore::RefNull(HeapType::Abstract {
            ty: wast::core::AbstractHeapType::Extern,
            ..
        }) => Value::ExternRef(None),
        WastArgCore::RefExtern(id) => Value::ExternRef(Some(ExternRef::new(u64::from(*id)))),
        _ => return None,
    })
}

const F32_CANONICAL_NAN: u32 = 0x7fc0_0000;
const F64_CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

fn f32_matches(pattern: &NanPattern<wast::token::F32>, bits: u32) -> bool {
    let magnitude = bits & 0x7fff_ffff;
    match pattern {
        // Either sign: the spec leaves the sign of a NaN result open.
        NanPattern::CanonicalNan => magnitude == F32_CANONICAL_NAN,
        NanPattern::ArithmeticNan => magnitude & F32_CANONICAL_NAN == F32_CANONICAL_NAN,
        NanPattern::Value(expected) => bits == expected.bits,
    }
}

fn f64_matches(pattern: &NanPattern<wast::token::F64>, bits: u64) -> bool {
    let magnitude = bits & 0x7fff_ffff_ffff_ffff;
    match pattern {
        NanPattern::CanonicalNan => magnitude == F64_CANONICAL_NAN,
        NanPattern::ArithmeticNan => magnitude & F64_CANONICAL_NAN == F64_CANONICAL_NAN,
        NanPattern::Value(expected) => bits == expected.bits,
    }
}

/// Whether `actual` satisfies the expectation `expected`.
pub(crate) fn matches(expected: &WastRet<'_>, actual: &Value) -> bool {
    let WastRet::Core(expected) = expected else {
        return false;
    };
    match (expected, actual) {
        (WastRetCore::I32(e), Value::I32(a)) => e == a,
        (WastRetCore::I64(e), Value::I64(a)) => e == a,
        (WastRetCore::F32(pattern), Value::F32(bits)) => f32_matches(pattern, *bits),
        (WastRetCore::F64(pattern), Value::F64(bits)) => f64_matches(pattern, *bits),
        (WastRetCore::RefNull(ty), Value::FuncRef(None)) => {
            null_type_is(ty, wast::core::AbstractHeapType::Func)
        }
        (WastRetCore::RefNull(ty), Value::ExternRef(None)) => {
            null_type_is(ty, wast::core::AbstractHeapType::Extern)
        }
        (WastRetCore::RefExtern(None), Value::ExternRef(Some(_))) => true,
        (WastRetCore::RefExtern(Some(id)), Value::ExternRef(Some(actual))) => {
            actual.id() == u64::from(*id)
        }
        (WastRetCore::RefFunc(_), Value::FuncRef(Some(_))) => true,
        _ => false,
    }
}

fn null_type_is(ty: &Option<HeapType<'_>>, want: wast::core::AbstractHeapType) -> bool {
    match ty {
        None => true,
        Some(HeapType::Abstract { ty, .. }) => {
            std::mem::discriminant(ty) == std::mem::discriminant(&want)
        }
        Some(_) => false,
    }
}

/// A short rendering of an expectation for failure messages.
pub(crate) fn describe_expected(expected: &[WastRet<'_>]) -> String {
    let parts: Vec<String> = expected
        .iter()
        .map(|ret| match ret {
            WastRet::Core(WastRetCore::I32(v)) => format!("i32:{v}"),
            WastRet::Core(WastRetCore::I64(v)) => format!("i64:{v}"),
            WastRet::Core(WastRetCore::F32(NanPattern::Value(v))) => {
                format!("f32:{:#010x}", v.bits)
            }
            WastRet::Core(WastRetCore::F64(NanPattern::Value(v))) => {
                format!("f64:{:#018x}", v.bits)
            }
            WastRet::Core(WastRetCore::F32(NanPattern::CanonicalNan)) => "f32:nan:canonical".into(),
            WastRet::Core(WastRetCore::F64(NanPattern::CanonicalNan)) => "f64:nan:canonical".into(),
            WastRet::Core(WastRetCore::F32(NanPattern::ArithmeticNan)) => {
                "f32:nan:arithmetic".into()
            }
            WastRet::Core(WastRetCore::F64(NanPattern::ArithmeticNan)) => {
                "f64:nan:arithmetic".into()
            }
            other => format!("{other:?}"),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// A short rendering of actual values for failure messages, in the same
/// notation as [`describe_expected`].
pub(crate) fn describe_actual(actual: &[Value]) -> String {
    let parts: Vec<String> = actual
        .iter()
        .map(|value| match value {
            Value::I32(v) => format!("i32:{v}"),
            Value::I64(v) => format!("i64:{v}"),
            Value::F32(bits) => format!("f32:{bits:#010x}"),
            Value::F64(bits) => format!("f64:{bits:#018x}"),
            Value::FuncRef(None) => "funcref:null".into(),
            Value::FuncRef(Some(_)) => "funcref".into(),
            Value::ExternRef(None) => "externref:null".into(),
            Value::ExternRef(Some(r)) => format!("externref:{}", r.id()),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}
