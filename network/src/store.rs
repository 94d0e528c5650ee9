//! The commit certificates of decided blocks, kept beside the chain's
//! database so this node can prove finality to peers that sync from it.

use std::path::Path;

use malachitebft_core_types::CommitCertificate;
use redb::{Database, ReadableDatabase, TableDefinition};

use crate::app::NetworkError;
use crate::context::DetvmContext;

/// Height (big-endian, so keys sort by height) → borsh certificate.
const CERTIFICATES: TableDefinition<'static, u64, &'static [u8]> =
    TableDefinition::new("certificates");

/// Commit certificates by height.
pub struct CertificateStore {
    db: Database,
}

fn store_error(e: impl std::fmt::Display) -> NetworkError {
    NetworkError::Store(e.to_string())
}

impl CertificateStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, NetworkError> {
        let db = Database::create(path).map_err(store_error)?;
        let txn = db.begin_write().map_err(store_error)?;
        txn.open_table(CERTIFICATES).map_err(store_error)?;
        txn.commit().map_err(store_error)?;
        Ok(Self { db })
    }

    /// Stores the certificate of the block at `height` (one durable write).
    pub fn put(
        &self,
        height: u64,
        certificate: &CommitCertificate<DetvmContext>,
    ) -> Result<(), NetworkError> {
        let bytes = borsh::to_vec(certificate).map_err(store_error)?;
        let txn = self.db.begin_write().map_err(store_error)?;
        txn.open_table(CERTIFICATES)
            .map_err(store_error)?
            .insert(height, bytes.as_slice())
            .map_err(store_error)?;
        txn.commit().map_err(store_error)
    }

    /// The certificate of the block at `height`, if stored.
    pub fn get(
        &self,
        height: u64,
    ) -> Result<Option<CommitCertificate<DetvmContext>>, NetworkError> {
        let txn = self.db.begin_read().map_err(store_error)?;
        let table = txn.open_table(CERTIFICATES).map_err(store_error)?;
        let Some(bytes) = table.get(height).map_err(store_error)? else {
            return Ok(None);
        };
        borsh::from_slice(bytes.value())
            .map(Some)
            .map_err(|e| NetworkError::Store(format!("certificate {height} is corrupt: {e}")))
    }
}
