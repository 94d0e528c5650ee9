//! Typed values as borsh bytes, in both directions: call arguments written
//! as `TYPE:VALUE` words become a method's input, and a method's return
//! bytes are read back as a list of types (`--decode`). One type list serves
//! both, so what `call` accepts is exactly what `--decode` prints.

use std::fmt;

use detvm_host::hex;

/// A borsh-encoded type the command line can write and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BorshType {
    /// `u8`, little-endian, as are all the integers.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `u128`.
    U128,
    /// `i8`, two's complement, as are all the signed integers.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `i128`.
    I128,
    /// One byte, 0 or 1.
    Bool,
    /// A `u32` byte length, then that many bytes of UTF-8.
    Str,
    /// A `u32` byte length, then that many bytes.
    Bytes,
}

/// The type names a person can write, for messages.
const TYPE_NAMES: &str = "u8…u128, i8…i128, bool, str, bytes";

/// Why a `TYPE:VALUE` word or a type name is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A word without `:`.
    #[error("expected TYPE:VALUE (e.g. u64:5, str:alice, bytes:0xab) or one 0x… hex string")]
    MissingType,
    /// A type name not in the list.
    #[error("unknown type `{0}`: {TYPE_NAMES}")]
    UnknownType(String),
    /// An integer that does not parse or does not fit.
    #[error("not a {0} in decimal")]
    NotAnInteger(BorshType),
    /// A bool spelled otherwise than `true` or `false`.
    #[error("a bool is `true` or `false`")]
    NotABool,
    /// `bytes:` followed by something that is not hex.
    #[error("bytes are hex, like 0x0a0b")]
    NotHex,
}

/// Why the `ARGS` words of a call cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// A lone `0x…` word with an odd length or a non-hex digit.
    #[error("`{0}` is not hex bytes")]
    Hex(String),
    /// One typed word is wrong.
    #[error("argument {position}: `{word}`: {reason}")]
    Typed {
        /// 1-based position among the words.
        position: usize,
        /// The word as given.
        word: String,
        /// What is wrong with it.
        reason: ValueError,
    },
}

/// Why return bytes do not read as the requested types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes end inside value `index`.
    #[error("value {index} ({ty}) needs {needed} more bytes, {left} are left")]
    Truncated {
        /// 1-based position in the type list.
        index: usize,
        /// Its type.
        ty: BorshType,
        /// Bytes the value still needed.
        needed: usize,
        /// Bytes there were.
        left: usize,
    },
    /// A bool byte other than 0 or 1.
    #[error("value {index} (bool) is the byte {byte:#04x}, not 0 or 1")]
    InvalidBool {
        /// 1-based position in the type list.
        index: usize,
        /// The byte found.
        byte: u8,
    },
    /// A string that is not UTF-8.
    #[error("value {index} (str) is not UTF-8")]
    InvalidUtf8 {
        /// 1-based position in the type list.
        index: usize,
    },
    /// Bytes after the last value: the list does not describe the return.
    #[error("{count} bytes are left after the last value")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

impl BorshType {
    /// Every type, in the order of [`TYPE_NAMES`].
    const ALL: [BorshType; 13] = [
        Self::U8,
        Self::U16,
        Self::U32,
        Self::U64,
        Self::U128,
        Self::I8,
        Self::I16,
        Self::I32,
        Self::I64,
        Self::I128,
        Self::Bool,
        Self::Str,
        Self::Bytes,
    ];

    /// The name used in words and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::U8 => "u8",
            Self::U16 => "u16",
            Self::U32 => "u32",
            Self::U64 => "u64",
            Self::U128 => "u128",
            Self::I8 => "i8",
            Self::I16 => "i16",
            Self::I32 => "i32",
            Self::I64 => "i64",
            Self::I128 => "i128",
            Self::Bool => "bool",
            Self::Str => "str",
            Self::Bytes => "bytes",
        }
    }

    /// The type named `name` (`string` is accepted for `str`).
    pub fn parse(name: &str) -> Result<Self, ValueError> {
        let name = if name == "string" { "str" } else { name };
        Self::ALL
            .into_iter()
            .find(|ty| ty.name() == name)
            .ok_or_else(|| ValueError::UnknownType(name.to_owned()))
    }

    /// Appends the borsh encoding of `text` read as this type.
    fn encode(self, text: &str, out: &mut Vec<u8>) -> Result<(), ValueError> {
        fn int<T: std::str::FromStr + borsh::BorshSerialize>(
            ty: BorshType,
            text: &str,
            out: &mut Vec<u8>,
        ) -> Result<(), ValueError> {
            let value: T = text.parse().map_err(|_| ValueError::NotAnInteger(ty))?;
            borsh_into(&value, out);
            Ok(())
        }
        match self {
            Self::U8 => int::<u8>(self, text, out)?,
            Self::U16 => int::<u16>(self, text, out)?,
            Self::U32 => int::<u32>(self, text, out)?,
            Self::U64 => int::<u64>(self, text, out)?,
            Self::U128 => int::<u128>(self, text, out)?,
            Self::I8 => int::<i8>(self, text, out)?,
            Self::I16 => int::<i16>(self, text, out)?,
            Self::I32 => int::<i32>(self, text, out)?,
            Self::I64 => int::<i64>(self, text, out)?,
            Self::I128 => int::<i128>(self, text, out)?,
            Self::Bool => match text {
                "true" => borsh_into(&true, out),
                "false" => borsh_into(&false, out),
                _ => return Err(ValueError::NotABool),
            },
            Self::Str => borsh_into(text, out),
            Self::Bytes => borsh_into(&parse_hex(text).ok_or(ValueError::NotHex)?, out),
        }
        Ok(())
    }

    /// Reads one value of this type off the front of `input`, as the text
    /// [`BorshType::encode`] would accept. `index` only labels errors. Read
    /// by hand rather than through borsh, so that an error can say which
    /// value failed and how many bytes were missing.
    fn decode(self, input: &mut &[u8], index: usize) -> Result<String, DecodeError> {
        let mut take = |needed: usize| -> Result<&[u8], DecodeError> {
            if input.len() < needed {
                return Err(DecodeError::Truncated {
                    index,
                    ty: self,
                    needed,
                    left: input.len(),
                });
            }
            let (value, rest) = input.split_at(needed);
            *input = rest;
            Ok(value)
        };
        macro_rules! int {
            ($t:ty) => {{
                let bytes = take(size_of::<$t>())?;
                <$t>::from_le_bytes(bytes.try_into().expect("took the type's size")).to_string()
            }};
        }
        Ok(match self {
            Self::U8 => int!(u8),
            Self::U16 => int!(u16),
            Self::U32 => int!(u32),
            Self::U64 => int!(u64),
            Self::U128 => int!(u128),
            Self::I8 => int!(i8),
            Self::I16 => int!(i16),
            Self::I32 => int!(i32),
            Self::I64 => int!(i64),
            Self::I128 => int!(i128),
            Self::Bool => match take(1)?[0] {
                0 => "false".to_owned(),
                1 => "true".to_owned(),
                byte => return Err(DecodeError::InvalidBool { index, byte }),
            },
            Self::Str | Self::Bytes => {
                let length = u32::from_le_bytes(take(4)?.try_into().expect("took 4 bytes"));
                // A length beyond the input fails in `take`, before any
                // allocation, whatever the claimed size.
                let bytes = take(usize::try_from(length).unwrap_or(usize::MAX))?;
                if self == Self::Bytes {
                    format!("0x{}", hex(bytes))
                } else {
                    std::str::from_utf8(bytes)
                        .map_err(|_| DecodeError::InvalidUtf8 { index })?
                        .to_owned()
                }
            }
        })
    }
}

impl fmt::Display for BorshType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Appends `value` in borsh. Writing to a `Vec` cannot fail, and nothing
/// a command line holds reaches borsh's `u32` length limit.
fn borsh_into<T: borsh::BorshSerialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    value
        .serialize(out)
        .expect("a command-line value serialises into memory");
}

/// Parses hex with an optional `0x` prefix.
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    detvm_host::from_hex(text.strip_prefix("0x").unwrap_or(text))
}

/// The call input for the `ARGS` words: one `0x…` word is raw bytes;
/// otherwise every word is `TYPE:VALUE` and the values are borsh-encoded
/// in order.
pub fn encode_args(words: &[String]) -> Result<Vec<u8>, ArgsError> {
    if let [word] = words
        && word.starts_with("0x")
    {
        return parse_hex(word).ok_or_else(|| ArgsError::Hex(word.clone()));
    }
    let mut out = Vec::new();
    for (position, word) in words.iter().enumerate() {
        encode_word(word, &mut out).map_err(|reason| ArgsError::Typed {
            position: position + 1,
            word: word.clone(),
            reason,
        })?;
    }
    Ok(out)
}

fn encode_word(word: &str, out: &mut Vec<u8>) -> Result<(), ValueError> {
    let (ty, value) = word.split_once(':').ok_or(ValueError::MissingType)?;
    BorshType::parse(ty)?.encode(value, out)
}

/// Reads `bytes` as the values of `types`, in order, each as a
/// `TYPE:VALUE` word that `call` would accept. Every byte must be used.
pub fn decode_values(types: &[BorshType], mut bytes: &[u8]) -> Result<Vec<String>, DecodeError> {
    let values = types
        .iter()
        .enumerate()
        .map(|(i, ty)| Ok(format!("{ty}:{}", ty.decode(&mut bytes, i + 1)?)))
        .collect::<Result<Vec<_>, DecodeError>>()?;
    if !bytes.is_empty() {
        return Err(DecodeError::TrailingBytes { count: bytes.len() });
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn every_type_round_trips_through_encode_and_decode() {
        let cases = [
            "u8:255",
            "u16:65535",
            "u32:4294967295",
            "u64:18446744073709551615",
            "u128:340282366920938463463374607431768211455",
            "i8:-128",
            "i16:-32768",
            "i32:-2147483648",
            "i64:-9223372036854775808",
            "i128:-170141183460469231731687303715884105728",
            "bool:true",
            "bool:false",
            "str:",
            "str:héllo wörld",
            "bytes:0x",
            "bytes:0x00ff10",
        ];
        let encoded = encode_args(&words(&cases)).unwrap();
        let types: Vec<BorshType> = cases
            .iter()
            .map(|w| BorshType::parse(w.split_once(':').unwrap().0).unwrap())
            .collect();
        assert_eq!(decode_values(&types, &encoded).unwrap(), cases);
    }

    #[test]
    fn the_encoding_is_borsh() {
        let encoded =
            encode_args(&words(&["u128:1000", "str:DVM", "bool:true", "i16:-2"])).unwrap();
        let expected = borsh::to_vec(&(1000u128, "DVM".to_owned(), true, -2i16)).unwrap();
        assert_eq!(encoded, expected);
        let bytes = borsh::to_vec(&vec![1u8, 2, 3]).unwrap();
        assert_eq!(encode_args(&words(&["bytes:0x010203"])).unwrap(), bytes);
    }

    #[test]
    fn a_lone_hex_word_is_raw_bytes() {
        assert_eq!(encode_args(&words(&["0x0a0b"])).unwrap(), [0x0a, 0x0b]);
        assert_eq!(encode_args(&[]).unwrap(), Vec::<u8>::new());
        assert_eq!(
            encode_args(&words(&["0xabc"])),
            Err(ArgsError::Hex("0xabc".into()))
        );
    }

    #[test]
    fn bad_words_name_their_position_and_reason() {
        let error = |list: &[&str]| match encode_args(&words(list)) {
            Err(ArgsError::Typed {
                position, reason, ..
            }) => (position, reason),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            error(&["u8:1", "u8:256"]),
            (2, ValueError::NotAnInteger(BorshType::U8))
        );
        assert_eq!(error(&["nocolon"]), (1, ValueError::MissingType));
        assert_eq!(
            error(&["f32:1"]),
            (1, ValueError::UnknownType("f32".into()))
        );
        assert_eq!(error(&["bool:yes"]), (1, ValueError::NotABool));
        assert_eq!(error(&["bytes:0xg0"]), (1, ValueError::NotHex));
        assert_eq!(
            error(&["u64:-1"]),
            (1, ValueError::NotAnInteger(BorshType::U64))
        );
    }

    #[test]
    fn decoding_rejects_what_the_types_do_not_describe() {
        use BorshType::*;
        assert_eq!(
            decode_values(&[U128], &[1, 2, 3]),
            Err(DecodeError::Truncated {
                index: 1,
                ty: U128,
                needed: 16,
                left: 3
            })
        );
        assert_eq!(
            decode_values(&[U8], &[1, 2]),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
        assert_eq!(
            decode_values(&[U8, Bool], &[1, 2]),
            Err(DecodeError::InvalidBool { index: 2, byte: 2 })
        );
        assert_eq!(
            decode_values(&[Str], &[2, 0, 0, 0, 0xc3, 0x28]),
            Err(DecodeError::InvalidUtf8 { index: 1 })
        );
        // A huge claimed length fails on the bytes present, not by allocating.
        assert_eq!(
            decode_values(&[Bytes], &[0xff, 0xff, 0xff, 0xff, 7]),
            Err(DecodeError::Truncated {
                index: 1,
                ty: Bytes,
                needed: 0xffff_ffff,
                left: 1
            })
        );
        assert_eq!(decode_values(&[], &[]), Ok(vec![]));
    }

    #[test]
    fn type_names_parse_and_print_the_same() {
        for ty in BorshType::ALL {
            assert_eq!(BorshType::parse(ty.name()), Ok(ty));
        }
        assert_eq!(BorshType::parse("string"), Ok(BorshType::Str));
        assert!(BorshType::parse("").is_err());
    }
}
