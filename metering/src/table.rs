//! The versioned name/value table encoding (`docs/host-api.md`, "Consensus
//! configuration"): one canonical byte string per table, shared by the gas
//! [`Schedule`](crate::Schedule), the [`Limits`](crate::Limits), the
//! [`StackConfig`](crate::StackConfig) and the host's fee table, so that
//! every part of the consensus configuration is encoded by the same code.
//!
//! The encoding is the table version (`u32` little-endian), the number of
//! rows (`u32` LE), then per row the name's length as one byte, the name
//! and the value, little-endian at the table's width.

use thiserror::Error;

/// Why a string cannot name a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RowNameError {
    /// The name is empty.
    #[error("a row name cannot be empty")]
    Empty,
    /// The name does not fit its one-byte length.
    #[error("a row name is at most 255 bytes, not {len}")]
    TooLong {
        /// The name's length in bytes.
        len: usize,
    },
    /// A byte outside `a`-`z`, `0`-`9` and `_`.
    #[error("byte {byte:#04x} at {index} of a row name is not a-z, 0-9 or _")]
    Byte {
        /// Its position in the name.
        index: usize,
        /// The byte.
        byte: u8,
    },
}

/// The name of a row: 1 to 255 bytes from `a`-`z`, `0`-`9` and `_`.
///
/// Row names are fixed in code; [`row_name!`](crate::row_name) checks a
/// literal while compiling, so encoding a table never fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowName(&'static str);

impl RowName {
    /// Longest name, in bytes: its length is written as one byte.
    pub const MAX_LEN: usize = 255;

    /// `name` as a row name, if it is one.
    pub const fn new(name: &'static str) -> Result<Self, RowNameError> {
        let bytes = name.as_bytes();
        if bytes.is_empty() {
            return Err(RowNameError::Empty);
        }
        if bytes.len() > Self::MAX_LEN {
            return Err(RowNameError::TooLong { len: bytes.len() });
        }
        let mut index = 0;
        while index < bytes.len() {
            let byte = bytes[index];
            if !(byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_') {
                return Err(RowNameError::Byte { index, byte });
            }
            index += 1;
        }
        Ok(Self(name))
    }

    /// The name.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for RowName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl PartialEq<str> for RowName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RowName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A [`RowName`] from a constant string, checked while compiling.
///
/// ```
/// use detvm_metering::{row_name, table::RowName};
/// const NAME: RowName = row_name!("memory_pages");
/// assert_eq!(NAME.as_str(), "memory_pages");
/// ```
///
/// A name outside the alphabet does not compile:
///
/// ```compile_fail
/// let name = detvm_metering::row_name!("Memory pages");
/// ```
#[macro_export]
macro_rules! row_name {
    ($name:expr) => {
        const {
            match $crate::table::RowName::new($name) {
                Ok(name) => name,
                // Only ever evaluated by the compiler: a bad name fails the
                // build, it cannot fail a node.
                Err(_) => panic!("not a table row name"),
            }
        }
    };
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u32 {}
    impl Sealed for u64 {}
}

/// A row value: an unsigned integer, written little-endian at its own
/// width (the table's width).
pub trait RowValue: Copy + sealed::Sealed {
    /// Bytes per value.
    const WIDTH: usize;
    /// Appends the value, little-endian.
    fn write_le(self, out: &mut Vec<u8>);
}

impl RowValue for u32 {
    const WIDTH: usize = 4;
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl RowValue for u64 {
    const WIDTH: usize = 8;
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// The canonical bytes of a table of `version` whose rows, in canonical
/// order, are `rows`.
pub fn encode<V: RowValue, const N: usize>(version: u32, rows: &[(RowName, V); N]) -> Vec<u8> {
    // The row count is written as a u32; a table too large for it does not
    // build.
    let count: u32 = const {
        assert!(N <= u32::MAX as usize, "a table has at most u32::MAX rows");
        N as u32
    };
    let size = rows
        .iter()
        .map(|(name, _)| 1 + name.as_str().len() + V::WIDTH)
        .sum::<usize>();
    let mut out = Vec::with_capacity(8 + size);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    for (name, value) in rows {
        write_name(*name, &mut out);
        value.write_le(&mut out);
    }
    out
}

/// Appends `name` as its length (one byte) and its bytes, as a row or a
/// part of the consensus configuration is named.
pub fn write_name(name: RowName, out: &mut Vec<u8>) {
    // A RowName is at most 255 bytes, so the length fits its byte.
    out.push(name.as_str().len() as u8);
    out.extend_from_slice(name.as_str().as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(RowName::new(""), Err(RowNameError::Empty));
        assert_eq!(
            RowName::new("Max"),
            Err(RowNameError::Byte {
                index: 0,
                byte: b'M'
            })
        );
        assert_eq!(
            RowName::new("a b"),
            Err(RowNameError::Byte {
                index: 1,
                byte: b' '
            })
        );
        let long: &'static str = Box::leak("a".repeat(256).into_boxed_str());
        assert_eq!(RowName::new(long), Err(RowNameError::TooLong { len: 256 }));
        assert!(RowName::new(&long[..255]).is_ok());
        assert_eq!(row_name!("per_local_2").as_str(), "per_local_2");
    }

    #[test]
    fn encoding_is_the_documented_one() {
        let rows = [(row_name!("a"), 1u32), (row_name!("bc"), 0x0102_0304)];
        assert_eq!(
            encode(7, &rows),
            [
                7, 0, 0, 0, // version
                2, 0, 0, 0, // rows
                1, b'a', 1, 0, 0, 0, // a = 1
                2, b'b', b'c', 4, 3, 2, 1, // bc
            ]
        );
        let wide = [(row_name!("a"), 1u64)];
        assert_eq!(
            encode(1, &wide),
            [1, 0, 0, 0, 1, 0, 0, 0, 1, b'a', 1, 0, 0, 0, 0, 0, 0, 0]
        );
        let empty: [(RowName, u64); 0] = [];
        assert_eq!(encode(3, &empty), [3, 0, 0, 0, 0, 0, 0, 0]);
    }
}
