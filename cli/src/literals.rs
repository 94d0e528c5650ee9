//! Call arguments written as WebAssembly text literals, typed by the
//! parameter they are passed to.

use detvm_vm::{ValType, Value};
use wast::parser::{self, Parse, ParseBuffer};

/// An argument that is not a literal of its parameter's type.
#[derive(Debug, thiserror::Error)]
#[error("argument {position} `{text}` is not a valid {ty} literal: {reason}")]
pub struct LiteralError {
    /// 1-based position among the arguments.
    pub position: usize,
    /// The argument as given.
    pub text: String,
    /// The parameter's type.
    pub ty: &'static str,
    /// Why it does not parse.
    pub reason: String,
}

/// Parses `text` as a literal of type `ty`: integers in decimal or `0x` hex
/// with an optional sign and `_` separators (unsigned spellings wrap, as in
/// the text format), floats in decimal or hex, `inf`, `nan` and
/// `nan:0x<payload>`; `null` for references.
pub fn parse_literal(position: usize, text: &str, ty: ValType) -> Result<Value, LiteralError> {
    let error = |reason: String| LiteralError {
        position,
        text: text.to_owned(),
        ty: type_name(ty),
        reason,
    };
    match ty {
        ValType::I32 => parse_token::<i32>(text).map(Value::I32),
        ValType::I64 => parse_token::<i64>(text).map(Value::I64),
        ValType::F32 => parse_token::<wast::token::F32>(text).map(|f| Value::F32(f.bits)),
        ValType::F64 => parse_token::<wast::token::F64>(text).map(|f| Value::F64(f.bits)),
        ValType::FuncRef if text == "null" => Ok(Value::FuncRef(None)),
        ValType::ExternRef if text == "null" => Ok(Value::ExternRef(None)),
        ValType::FuncRef | ValType::ExternRef => {
            Err("only `null` can be passed for a reference".to_owned())
        }
    }
    .map_err(error)
}

fn parse_token<T: for<'a> Parse<'a>>(text: &str) -> Result<T, String> {
    let buffer = ParseBuffer::new(text).map_err(|e| e.message())?;
    parser::parse::<T>(&buffer).map_err(|e| e.message())
}

/// The text-format name of a value type.
pub fn type_name(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::FuncRef => "funcref",
        ValType::ExternRef => "externref",
    }
}

/// How a result is printed: `i32:`/`i64:` signed decimal, floats as their
/// raw bits in lowercase hex (so every NaN payload is visible),
/// `funcref:null` or `funcref:nonnull`, `externref:null` or
/// `externref:<host id>`.
///
/// Output must be the same on every run and machine, so nothing derived
/// from a host address is ever printed: `Func::id` is one, and the VM's
/// public API gives no way back from a `Func` to its function index, so a
/// non-null funcref only says that it is non-null. An externref's id is
/// chosen by the host, not an address, so it is printed as is.
pub fn render_value(value: &Value) -> String {
    match value {
        Value::I32(v) => format!("i32:{v}"),
        Value::I64(v) => format!("i64:{v}"),
        Value::F32(bits) => format!("f32:{bits:#010x}"),
        Value::F64(bits) => format!("f64:{bits:#018x}"),
        Value::FuncRef(None) => "funcref:null".to_owned(),
        Value::FuncRef(Some(_)) => "funcref:nonnull".to_owned(),
        Value::ExternRef(None) => "externref:null".to_owned(),
        Value::ExternRef(Some(extern_ref)) => format!("externref:{}", extern_ref.id()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use detvm_vm::ExternRef;

    #[test]
    fn integers_accept_sign_hex_separators_and_unsigned_spellings() {
        assert_eq!(parse_literal(1, "5", ValType::I32).unwrap(), Value::I32(5));
        assert_eq!(
            parse_literal(1, "-1", ValType::I32).unwrap(),
            Value::I32(-1)
        );
        assert_eq!(
            parse_literal(1, "0x10", ValType::I32).unwrap(),
            Value::I32(16)
        );
        assert_eq!(
            parse_literal(1, "0xffffffff", ValType::I32).unwrap(),
            Value::I32(-1)
        );
        assert_eq!(
            parse_literal(1, "1_000", ValType::I64).unwrap(),
            Value::I64(1000)
        );
        assert!(parse_literal(1, "0x1_0000_0000", ValType::I32).is_err());
        assert!(parse_literal(1, "1.5", ValType::I32).is_err());
        assert!(parse_literal(1, "", ValType::I64).is_err());
    }

    #[test]
    fn floats_keep_exact_bits() {
        assert_eq!(
            parse_literal(1, "1.5", ValType::F32).unwrap(),
            Value::F32(0x3fc0_0000)
        );
        assert_eq!(
            parse_literal(1, "-inf", ValType::F64).unwrap(),
            Value::F64(0xfff0_0000_0000_0000)
        );
        assert_eq!(
            parse_literal(1, "nan", ValType::F32).unwrap(),
            Value::F32(0x7fc0_0000)
        );
        assert_eq!(
            parse_literal(1, "-nan:0x1", ValType::F32).unwrap(),
            Value::F32(0xff80_0001)
        );
        assert_eq!(
            parse_literal(1, "0x1p-1", ValType::F64).unwrap(),
            Value::F64(0x3fe0_0000_0000_0000)
        );
        assert!(parse_literal(1, "one", ValType::F64).is_err());
    }

    #[test]
    fn references_print_without_addresses() {
        assert_eq!(render_value(&Value::FuncRef(None)), "funcref:null");
        assert_eq!(render_value(&Value::ExternRef(None)), "externref:null");
        assert_eq!(
            render_value(&Value::ExternRef(Some(ExternRef::new(7)))),
            "externref:7"
        );
    }

    #[test]
    fn errors_name_position_type_and_text() {
        let error = parse_literal(2, "abc", ValType::I64).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("argument 2") && message.contains("i64") && message.contains("abc"),
            "{message}"
        );
    }
}
