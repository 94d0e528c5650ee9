//! Stub: owned by the validation work.

use crate::{Config, ModuleInfo, ValidationError};

/// Validates `bytes` against the determinism profile and `config`.
pub fn validate(bytes: &[u8], config: &Config) -> Result<ModuleInfo, ValidationError> {
    let _ = config;
    let mut validator = wasmparser::Validator::new();
    validator.validate_all(bytes).map_err(|e| ValidationError::Invalid {
        offset: e.offset(),
        message: e.message().to_string(),
    })?;
    Ok(ModuleInfo { size: bytes.len(), ..ModuleInfo::default() })
}
