//! Reading a module from disk, in binary or text form.

use std::path::{Path, PathBuf};

/// Why a module could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be read: a usage problem, not a module problem.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is WebAssembly text that does not parse.
    #[error("cannot parse `{path}` as WebAssembly text: {message}")]
    Text {
        /// The file.
        path: PathBuf,
        /// Byte offset in the text.
        offset: usize,
        /// The parser's message, with line and column.
        message: String,
    },
}

/// Loads `path` as a binary module, or as WebAssembly text if it does not
/// start with the binary magic number (the extension is not trusted).
pub fn load_module(path: &Path) -> Result<Vec<u8>, InputError> {
    let bytes = std::fs::read(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })?;
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    parse_text(path, &bytes)
}

fn parse_text(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, InputError> {
    let text_error = |offset: usize, message: String| InputError::Text {
        path: path.to_owned(),
        offset,
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        text_error(
            e.valid_up_to(),
            "file is neither a binary module nor UTF-8 text".into(),
        )
    })?;
    let to_error = |mut err: wast::Error| {
        err.set_path(path);
        err.set_text(text);
        text_error(err.span().offset(), err.to_string())
    };
    let buffer = wast::parser::ParseBuffer::new(text).map_err(to_error)?;
    let mut wat = wast::parser::parse::<wast::Wat>(&buffer).map_err(to_error)?;
    wat.encode().map_err(to_error)
}
