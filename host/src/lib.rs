//! detvm's contract runtime. This crate owns everything between the engine
//! and a chain: the host API contracts import from `env` (one table drives
//! both the linker and the import allow-list, priced by the versioned
//! [`HostFees`]), the [`ConsensusConfig`] whose hash nodes agree on,
//! contract storage behind the [`Storage`] trait (in memory, or a
//! crash-safe `redb` file), the per-call write overlay that is
//! committed atomically on success and dropped on any trap, [`Receipt`]s
//! and their canonical hash, and [`Chain`]: deploy, call, view and state
//! listing, with a cache of compiled modules. `docs/host-api.md` is the
//! normative description.

#![deny(missing_docs)]

mod abi;
mod account;
mod chain;
mod consensus;
mod fees;
mod frame;
mod receipt;
mod storage;

pub use abi::{
    HOST_FUNCTIONS, HOST_MODULE, HostCallTrace, HostFunction, MAX_METHOD_LEN, MAX_TRACED_CALLS,
    allowed_imports,
};
pub use account::{
    ACCOUNT_PREFIX, Account, AccountKind, CONTRACT_ID_LEN, IMPLICIT_ID_LEN, account_key,
    account_kind, decode_account, implicit_key, receiving_account,
};
pub use chain::{
    CallContext, Chain, ContractInfo, Corruption, EngineFault, Error, MAX_ACCOUNT_LEN, Rejection,
    STATE_FILE, check_account,
};
pub use consensus::ConsensusConfig;
pub use detvm_vm::{CacheStats, CodeCache, TrapKind};
pub use fees::HostFees;
pub use frame::REENTRANT_EXPORT;
pub use receipt::{
    CallNode, CallOutcome, ContractId, DeployReceipt, Event, Receipt, ReceiptOutcome,
    events_in_order, from_hex, hex,
};
pub use storage::{BackendError, Change, Entry, MemoryStorage, RedbStorage, Storage, StorageError};
