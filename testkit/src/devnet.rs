//! The chain-level test kit: [`Devnet`], the chain as `detvm node --dev`
//! runs it, in memory, and [`DevChain`], the operations it shares with
//! [`crate::RemoteDevnet`] (a running node over JSON-RPC), so a test is
//! written once and runs on either.
//!
//! A [`Devnet`] executes through `detvm_chain::Ledger`, the node's own
//! executor: signed transactions from prefunded dev accounts, the validity
//! rules and fees of `docs/chain.md`, one block per transaction (instant
//! seal) with its transaction, receipt and state roots, snapshots, time
//! travel. Its blocks are the node's: the same transactions at the same
//! timestamps give the same headers, hashes, receipts and state roots,
//! which `tests/devnet.rs` checks against a real node.
//!
//! # Time
//!
//! A devnet's clock is simulated and advances with the chain, not with
//! the wall clock: block `h` is made at
//! `genesis timestamp + h × BLOCK_INTERVAL_NS + offset` (the offset is what
//! [`DevChain::advance_time`] added), exactly as a node makes a block at
//! `clock + offset`, unless [`DevChain::set_next_timestamp`] chose the
//! timestamp of the next block. As on the node:
//!
//! * `set_next_timestamp(t)` applies to the next block made (by a sent
//!   transaction or [`DevChain::mine`]) and only to it; `t` must be above
//!   the head's timestamp. A refused transaction makes no block, so the
//!   choice waits for the next block.
//! * `advance_time(d)` adds `d` to the offset of every later block,
//!   including the next one (unless its timestamp was set).
//! * A block's timestamp is never below its parent's plus 1 ns (the
//!   executor raises it), e.g. after a timestamp set far ahead.
//! * Views run on a committed block (the head, or the one chosen with
//!   [`View::at`]) and see that block's height and timestamp: moved time
//!   shows in views only once a block is made after it.
//! * [`DevChain::revert`] restores the offset the snapshot was taken with
//!   and forgets a chosen next timestamp; the blocks made again after it
//!   get the timestamps their heights give.

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use detvm_chain::{
    Account, Action, Block, BlockHeader, Genesis, Keypair, Ledger, SignedTransaction, Transaction,
    TxError, TxOutcome, TxReceipt,
};
use detvm_host::{ContractId, TrapKind};
use detvm_state::StateDb;

use crate::contracts;

/// The proposer named in a devnet's blocks: the dev node's
/// (`NodeConfig::dev`), so the same transactions at the same timestamps
/// give the same block hashes.
pub const PROPOSER: &str = "dev";

/// How far a devnet's clock moves per block: one second.
pub const BLOCK_INTERVAL_NS: u64 = 1_000_000_000;

/// The gas limit of transactions that do not choose one. It is a fixed
/// limit, not an estimate: a transaction pays for the gas it uses, never
/// for its limit, so the limit only decides when a runaway contract stops
/// and how much balance the signer needs (`limit × gas_price + amount`,
/// `docs/chain.md` 3.1). Enough for any example method, far below the
/// dev chain's block gas limit. Set a lower one with [`Tx::gas_limit`] to
/// send from an account holding less.
pub const DEFAULT_GAS_LIMIT: u64 = 1_000_000_000;

/// Why a devnet operation failed. A transaction that runs is never an
/// error, whatever its outcome (a trap, a failed action): it is a
/// [`TxResult`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevnetError {
    /// A [`Devnet`] refused the transaction: it is not valid on the head
    /// (`docs/chain.md` 3.1) or would not be admitted by a node's mempool
    /// (section 7). No block was made and nothing changed.
    #[error("transaction refused: {0}")]
    Refused(TxError),
    /// The node refused the transaction (JSON-RPC error 1000). No block
    /// was made and nothing changed.
    #[error("transaction refused by the node ({kind}): {message}")]
    NodeRefused {
        /// The rule it broke, as [`TxError::kind`] names it.
        kind: String,
        /// The node's message.
        message: String,
    },
    /// The node accepted the transaction but did not include it: it is
    /// waiting in the mempool (a future nonce, or a gas limit above the
    /// block gas limit). A [`Devnet`] has no mempool and refuses such
    /// transactions instead.
    #[error("transaction {hash} is pending in the node's mempool, not included")]
    Pending {
        /// The transaction hash, hex.
        hash: String,
    },
    /// The gas limit is above the block gas limit: no block can hold the
    /// transaction.
    #[error("gas limit {gas_limit} is above the block gas limit {block_gas_limit}")]
    AboveBlockGasLimit {
        /// The transaction's.
        gas_limit: u64,
        /// The chain's.
        block_gas_limit: u64,
    },
    /// Call or view arguments could not be borsh-encoded.
    #[error("cannot encode the arguments of `{method}`: {message}")]
    Encode {
        /// The method.
        method: String,
        /// The encoder's message.
        message: String,
    },
    /// A view of a contract that does not exist (node error 1003).
    #[error("no contract `{0}`")]
    UnknownContract(String),
    /// The view could not run (node error 1004): `kind` is
    /// `unknown_method`, `not_a_method` or `input_too_long`.
    #[error("the view could not run ({kind}): {message}")]
    ViewFailed {
        /// Why, as a stable kind.
        kind: String,
        /// The message.
        message: String,
    },
    /// No committed block at this height (node error 1001).
    #[error("no block at height {0}")]
    UnknownHeight(u64),
    /// No such snapshot, or it was used up by a revert (node error 1006).
    #[error("no snapshot {0} (a revert uses up its snapshot and every later one)")]
    UnknownSnapshot(u64),
    /// A chosen timestamp that does not move forward (node error 1007).
    #[error("timestamp {timestamp} is not after the head's {head}")]
    TimestampNotForward {
        /// The timestamp asked for.
        timestamp: u64,
        /// The head's timestamp.
        head: u64,
    },
    /// A return value was asked for but the transaction or view did not
    /// return (it trapped, failed, or was not a call).
    #[error("no return value: the outcome is {0}")]
    NoReturnValue(String),
    /// A return value did not decode as the type asked for.
    #[error("cannot decode the return value as {ty}: {message}")]
    Decode {
        /// The Rust type asked for.
        ty: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// The test kit failed (an example contract that is not built).
    #[error(transparent)]
    TestKit(#[from] crate::Error),
    /// The executor failed (storage, engine): a fault, not a transaction's
    /// outcome.
    #[error(transparent)]
    Ledger(#[from] detvm_chain::Error),
    /// The node answered with an error that has no variant of its own.
    #[error("{method}: node error {code}: {message}")]
    Rpc {
        /// The JSON-RPC method.
        method: String,
        /// The error code (`docs/rpc.md`, "Errors").
        code: i32,
        /// The message.
        message: String,
        /// `data.kind`, if the error has one.
        kind: Option<String>,
    },
    /// The node could not be reached (or a [`crate::RemoteDevnet`] was
    /// used inside an async runtime, where it cannot block).
    #[error("{method}: cannot reach the node: {message}")]
    Transport {
        /// The JSON-RPC method.
        method: String,
        /// What went wrong.
        message: String,
    },
    /// The node's answer does not have the shape `docs/rpc.md` gives it.
    #[error("{method}: unexpected answer: {message}")]
    BadAnswer {
        /// The JSON-RPC method.
        method: String,
        /// What is wrong with it.
        message: String,
    },
}

impl DevnetError {
    /// The rule a refused transaction broke ([`TxError::kind`]: e.g.
    /// `stale_nonce`, `insufficient_balance`), the same whether a
    /// [`Devnet`] or a node refused it; `None` for other errors.
    pub fn refusal_kind(&self) -> Option<&str> {
        match self {
            Self::Refused(e) => Some(e.kind()),
            Self::NodeRefused { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

/// A prefunded development account: the key [`Keypair::dev`] gives for
/// `index` and its implicit account id. Accounts `0..DEV_ACCOUNTS` are
/// funded by the dev genesis; higher indexes give keys with no account.
#[derive(Debug, Clone)]
pub struct DevAccount {
    /// Its index.
    pub index: u32,
    /// Its key.
    pub key: Keypair,
    /// Its account id (the public key in hex).
    pub id: String,
}

impl DevAccount {
    /// Dev account `index`.
    pub fn new(index: u32) -> Self {
        let key = Keypair::dev(index);
        Self {
            index,
            id: key.implicit_id(),
            key,
        }
    }
}

/// A point to come back to with [`DevChain::revert`]: an id, as the node's
/// `dev_snapshot` gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Snapshot(pub u64);

/// What a sent transaction did: its receipt, as the node stores it, and
/// where it was included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxResult {
    /// The receipt: outcome, gas used, fee, logs and state changes.
    pub receipt: TxReceipt,
    /// The block that holds it.
    pub height: u64,
    /// Its position in the block (0: one transaction per block).
    pub index: u32,
    /// The transaction hash.
    pub hash: [u8; 32],
}

impl TxResult {
    /// Whether the transaction did what it asked (returned, deployed,
    /// transferred).
    pub fn is_success(&self) -> bool {
        self.receipt.outcome.is_success()
    }

    /// The fee paid (`gas_used × gas_price`).
    pub fn fee(&self) -> u128 {
        self.receipt.fee
    }

    /// Gas used, intrinsic gas included.
    pub fn gas_used(&self) -> u64 {
        self.receipt.gas_used
    }

    /// The returned bytes, if the transaction was a call that returned.
    pub fn return_bytes(&self) -> Option<&[u8]> {
        return_bytes(&self.receipt.outcome)
    }

    /// The return value decoded from borsh, or why there is none.
    pub fn try_returned<T: BorshDeserialize>(&self) -> Result<T, DevnetError> {
        try_returned(&self.receipt.outcome)
    }

    /// The deployed contract, if this was a deploy that succeeded.
    pub fn deployed(&self) -> Option<ContractId> {
        match &self.receipt.outcome {
            TxOutcome::Deployed { contract, .. } => ContractId::parse(contract),
            _ => None,
        }
    }

    /// Panics unless the transaction did what it asked.
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.is_success(),
            "expected transaction {} to succeed, got {:?}",
            detvm_host::hex(&self.hash),
            self.receipt.outcome
        );
        self
    }

    /// Panics unless the transaction is a call that trapped with `kind`.
    pub fn assert_trap(&self, kind: TrapKind) -> &Self {
        assert_trap(&self.receipt.outcome, kind);
        self
    }

    /// Panics unless the action failed (`TxOutcome::Failed`) with `kind`
    /// (`out_of_gas`, `unknown_account`, `unknown_method`, …).
    pub fn assert_failed(&self, kind: &str) -> &Self {
        match &self.receipt.outcome {
            TxOutcome::Failed { kind: k, .. } if k == kind => self,
            other => panic!("expected the action to fail with `{kind}`, got {other:?}"),
        }
    }

    /// The return value decoded from borsh; panics if the call did not
    /// return or the value does not decode.
    pub fn returned<T: BorshDeserialize>(&self) -> T {
        match self.try_returned() {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// The deployed contract's id; panics if this was not a deploy that
    /// succeeded.
    pub fn contract_id(&self) -> ContractId {
        match self.deployed() {
            Some(id) => id,
            None => panic!("expected a deploy, got {:?}", self.receipt.outcome),
        }
    }
}

/// What a view did. Its outcome is [`TxOutcome::Returned`] or
/// [`TxOutcome::Trapped`], named as in receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewResult {
    /// Returned or trapped.
    pub outcome: TxOutcome,
    /// Gas the method used.
    pub gas_used: u64,
    /// Its log lines.
    pub logs: Vec<String>,
}

impl ViewResult {
    /// Whether the method returned.
    pub fn is_success(&self) -> bool {
        self.outcome.is_success()
    }

    /// The returned bytes, if the method returned.
    pub fn return_bytes(&self) -> Option<&[u8]> {
        return_bytes(&self.outcome)
    }

    /// The return value decoded from borsh, or why there is none.
    pub fn try_returned<T: BorshDeserialize>(&self) -> Result<T, DevnetError> {
        try_returned(&self.outcome)
    }

    /// The return value decoded from borsh; panics if the method did not
    /// return or the value does not decode.
    pub fn returned<T: BorshDeserialize>(&self) -> T {
        match self.try_returned() {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// Panics unless the method trapped with `kind`.
    pub fn assert_trap(&self, kind: TrapKind) -> &Self {
        assert_trap(&self.outcome, kind);
        self
    }
}

fn return_bytes(outcome: &TxOutcome) -> Option<&[u8]> {
    match outcome {
        TxOutcome::Returned { value } => Some(value),
        _ => None,
    }
}

fn try_returned<T: BorshDeserialize>(outcome: &TxOutcome) -> Result<T, DevnetError> {
    let bytes =
        return_bytes(outcome).ok_or_else(|| DevnetError::NoReturnValue(format!("{outcome:?}")))?;
    T::try_from_slice(bytes).map_err(|e| DevnetError::Decode {
        ty: std::any::type_name::<T>(),
        message: e.to_string(),
    })
}

fn assert_trap(outcome: &TxOutcome, kind: TrapKind) {
    match outcome {
        TxOutcome::Trapped { kind: k, .. } if k == kind.name() => {}
        other => panic!("expected a `{kind}` trap, got {other:?}"),
    }
}

/// A development chain a test drives: a [`Devnet`] in memory or a running
/// dev node ([`crate::RemoteDevnet`]). A test written against this trait
/// runs on both and sees the same receipts and state roots.
///
/// The required methods are the chain's primitives; the provided ones
/// build transactions ([`Tx`]) and views ([`View`]) over them.
pub trait DevChain {
    /// The chain id transactions are signed for.
    fn chain_id(&self) -> &str;

    /// The hash of block 0, which names the chain.
    fn genesis_hash(&self) -> [u8; 32];

    /// The last committed block's header.
    fn head(&self) -> Result<BlockHeader, DevnetError>;

    /// The header of the committed block at `height`.
    fn header(&self, height: u64) -> Result<BlockHeader, DevnetError>;

    /// The receipts of the committed block at `height`, in block order.
    fn receipts(&self, height: u64) -> Result<Vec<TxReceipt>, DevnetError>;

    /// The committed account record of `id`, if it has one.
    fn account_state(&self, id: &str) -> Result<Option<Account>, DevnetError>;

    /// Sends a signed transaction; with one transaction per block, returns
    /// once the block holding it is committed. A transaction that is not
    /// valid is an error ([`DevnetError::refusal_kind`] says which rule)
    /// and changes nothing.
    fn send_signed(&mut self, tx: SignedTransaction) -> Result<TxResult, DevnetError>;

    /// Runs `method` of `contract` read-only on the state after block
    /// `height` (default: the head), with that block's height and
    /// timestamp. `args` are the raw input bytes.
    fn view_bytes(
        &self,
        contract: &ContractId,
        method: &str,
        args: &[u8],
        height: Option<u64>,
    ) -> Result<ViewResult, DevnetError>;

    /// Takes a snapshot of the chain (and of the time offset).
    fn snapshot(&mut self) -> Result<Snapshot, DevnetError>;

    /// Undoes every block after `snapshot`, restores the time offset and
    /// forgets a chosen next timestamp; returns the restored head. The
    /// snapshot and every later one are used up.
    fn revert(&mut self, snapshot: Snapshot) -> Result<BlockHeader, DevnetError>;

    /// Gives the next block, and only it, the timestamp `timestamp_ns`
    /// (above the head's; see the module documentation on time).
    fn set_next_timestamp(&mut self, timestamp_ns: u64) -> Result<(), DevnetError>;

    /// Adds `ns` to the offset of every later block's timestamp; returns
    /// the total offset.
    fn advance_time(&mut self, ns: u64) -> Result<u64, DevnetError>;

    /// Makes an empty block; returns its header.
    fn mine(&mut self) -> Result<BlockHeader, DevnetError>;

    /// Dev account `index` (funded if below `DEV_ACCOUNTS`).
    fn account(&self, index: u32) -> DevAccount {
        DevAccount::new(index)
    }

    /// The committed balance of `id` (0 if it has no account).
    fn balance(&self, id: &str) -> Result<u128, DevnetError> {
        Ok(self.account_state(id)?.map_or(0, |a| a.balance))
    }

    /// The next nonce of `id` (0 if it has no account).
    fn nonce(&self, id: &str) -> Result<u64, DevnetError> {
        Ok(self.account_state(id)?.map_or(0, |a| a.nonce))
    }

    /// A deploy of `code` (binary Wasm).
    fn deploy(&mut self, code: &[u8]) -> Tx<'_, Self>
    where
        Self: Sized,
    {
        Tx::new(
            self,
            Ok(Action::Deploy {
                code: code.to_vec(),
            }),
        )
    }

    /// A deploy of the repository's example contract `name` (see
    /// [`contracts::NAMES`]); an example that is not built is an error
    /// from [`Tx::send`].
    fn deploy_example(&mut self, name: &str) -> Tx<'_, Self>
    where
        Self: Sized,
    {
        let action = contracts::wasm(name)
            .map(|code| Action::Deploy { code })
            .map_err(DevnetError::from);
        Tx::new(self, action)
    }

    /// A call of `method` with `args`, the borsh tuple of its parameters
    /// (`&(a, b)`, `&(a,)`, `&()`).
    fn call<A: BorshSerialize + ?Sized>(
        &mut self,
        contract: &ContractId,
        method: &str,
        args: &A,
    ) -> Tx<'_, Self>
    where
        Self: Sized,
    {
        let action = encode_args(method, args).map(|args| Action::Call {
            contract: contract.to_string(),
            method: method.to_owned(),
            args,
            amount: 0,
        });
        Tx::new(self, action)
    }

    /// A transfer of `amount` native tokens to `to`.
    fn transfer(&mut self, to: &str, amount: u128) -> Tx<'_, Self>
    where
        Self: Sized,
    {
        Tx::new(
            self,
            Ok(Action::Transfer {
                to: to.to_owned(),
                amount,
            }),
        )
    }

    /// A view of `method` with `args` (as for [`DevChain::call`]) on the
    /// head, or on the block chosen with [`View::at`].
    fn view<A: BorshSerialize + ?Sized>(
        &self,
        contract: &ContractId,
        method: &str,
        args: &A,
    ) -> View<'_, Self>
    where
        Self: Sized,
    {
        View {
            chain: self,
            contract: contract.clone(),
            method: method.to_owned(),
            args: encode_args(method, args),
            height: None,
        }
    }
}

fn encode_args<A: BorshSerialize + ?Sized>(method: &str, args: &A) -> Result<Vec<u8>, DevnetError> {
    borsh::to_vec(args).map_err(|e| DevnetError::Encode {
        method: method.to_owned(),
        message: e.to_string(),
    })
}

/// A transaction being built: from dev account 0 with
/// [`DEFAULT_GAS_LIMIT`] and the signer's next nonce unless chosen;
/// [`Tx::send`] signs and sends it.
#[must_use = "a transaction does nothing until it is sent"]
pub struct Tx<'a, C: DevChain + ?Sized> {
    chain: &'a mut C,
    action: Result<Action, DevnetError>,
    key: Keypair,
    gas_limit: u64,
    nonce: Option<u64>,
}

impl<C: DevChain + ?Sized> std::fmt::Debug for Tx<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("action", &self.action.as_ref().map(Action::name))
            .field("signer", &self.key.implicit_id())
            .field("gas_limit", &self.gas_limit)
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

impl<'a, C: DevChain + ?Sized> Tx<'a, C> {
    /// A transaction of `action` (or of the error that stopped it being
    /// built, returned by [`Tx::send`]) on `chain`.
    pub fn new(chain: &'a mut C, action: Result<Action, DevnetError>) -> Self {
        Self {
            chain,
            action,
            key: Keypair::dev(0),
            gas_limit: DEFAULT_GAS_LIMIT,
            nonce: None,
        }
    }

    /// Signs with dev account `index`'s key (default 0).
    pub fn from(mut self, index: u32) -> Self {
        self.key = Keypair::dev(index);
        self
    }

    /// Signs with `key`, as its implicit account.
    pub fn signer(mut self, key: &Keypair) -> Self {
        self.key = key.clone();
        self
    }

    /// The tokens a call attaches, or a transfer moves; a deploy moves
    /// none and ignores it.
    pub fn amount(mut self, amount: u128) -> Self {
        if let Ok(Action::Call { amount: a, .. } | Action::Transfer { amount: a, .. }) =
            &mut self.action
        {
            *a = amount;
        }
        self
    }

    /// The gas limit (default [`DEFAULT_GAS_LIMIT`]).
    pub fn gas_limit(mut self, gas_limit: u64) -> Self {
        self.gas_limit = gas_limit;
        self
    }

    /// Signs with this nonce instead of the signer's next one (to send a
    /// stale or future nonce).
    pub fn nonce(mut self, nonce: u64) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// Signs it, without sending: the transaction [`Tx::send`] would send
    /// (to send it elsewhere, or later with [`DevChain::send_signed`]).
    pub fn signed(self) -> Result<SignedTransaction, DevnetError> {
        Ok(self.sign()?.1)
    }

    /// Signs it and sends it in a block of its own.
    pub fn send(self) -> Result<TxResult, DevnetError> {
        let (chain, tx) = self.sign()?;
        chain.send_signed(tx)
    }

    fn sign(self) -> Result<(&'a mut C, SignedTransaction), DevnetError> {
        let action = self.action?;
        let signer = self.key.implicit_id();
        let nonce = match self.nonce {
            Some(n) => n,
            None => self.chain.nonce(&signer)?,
        };
        let tx = Transaction {
            chain_id: self.chain.chain_id().to_owned(),
            signer,
            public_key: self.key.public_key(),
            nonce,
            gas_limit: self.gas_limit,
            action,
        }
        .sign(&self.key);
        Ok((self.chain, tx))
    }
}

/// A view being set up; [`View::run`] runs it.
#[must_use = "a view does nothing until it is run"]
pub struct View<'a, C: DevChain + ?Sized> {
    chain: &'a C,
    contract: ContractId,
    method: String,
    args: Result<Vec<u8>, DevnetError>,
    height: Option<u64>,
}

impl<C: DevChain + ?Sized> std::fmt::Debug for View<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("contract", &self.contract)
            .field("method", &self.method)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl<C: DevChain + ?Sized> View<'_, C> {
    /// Runs on the state after block `height` instead of the head, with
    /// that block's height and timestamp.
    pub fn at(mut self, height: u64) -> Self {
        self.height = Some(height);
        self
    }

    /// Runs the method read-only: nothing it writes is kept (a write traps
    /// with `host`).
    pub fn run(self) -> Result<ViewResult, DevnetError> {
        let args = self.args?;
        self.chain
            .view_bytes(&self.contract, &self.method, &args, self.height)
    }
}

/// A development chain in memory, executing through the node's executor
/// (see the module documentation, and there the rules of time).
///
/// Each sent transaction is checked as a node's mempool checks it
/// (`docs/chain.md` 3.1 and 7), then put alone in a block that is built,
/// committed, and named after [`PROPOSER`]. It has no mempool: a future
/// nonce is refused (`future_nonce`) where a node would keep the
/// transaction pending.
pub struct Devnet {
    ledger: Ledger,
    genesis_timestamp: u64,
    next_timestamp: Option<u64>,
    time_offset_ns: u64,
    /// (height, time offset) by snapshot id, as the node keeps them.
    snapshots: Vec<(u64, u64)>,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet")
            .field("chain_id", &self.ledger.params().chain_id)
            .field("height", &self.ledger.head().height)
            .field("time_offset_ns", &self.time_offset_ns)
            .finish_non_exhaustive()
    }
}

impl Default for Devnet {
    fn default() -> Self {
        Self::new()
    }
}

impl Devnet {
    /// The chain of `detvm node --dev`: `Genesis::dev()`, chain id
    /// `detvm-dev`, `DEV_ACCOUNTS` prefunded accounts, timestamp 0.
    ///
    /// # Panics
    ///
    /// If the in-memory database or the runtime cannot be set up (a fault
    /// of this machine); [`Devnet::try_new`] returns the error instead.
    pub fn new() -> Self {
        match Self::try_new() {
            Ok(devnet) => devnet,
            Err(e) => panic!("cannot make a devnet: {e}"),
        }
    }

    /// [`Devnet::new`], returning errors.
    pub fn try_new() -> Result<Self, DevnetError> {
        Self::with_genesis(&Genesis::dev())
    }

    /// A devnet of another genesis, in memory.
    pub fn with_genesis(genesis: &Genesis) -> Result<Self, DevnetError> {
        let db = StateDb::in_memory().map_err(detvm_chain::Error::from)?;
        Ok(Self {
            ledger: Ledger::open(Arc::new(db), genesis)?,
            genesis_timestamp: genesis.timestamp_ns,
            next_timestamp: None,
            time_offset_ns: 0,
            snapshots: Vec::new(),
        })
    }

    /// The executor, for what this API does not cover (proofs, the state
    /// database, traces).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The last committed block's header: [`DevChain::head`], which
    /// cannot fail here.
    pub fn head(&self) -> &BlockHeader {
        self.ledger.head()
    }

    /// Sends a signed transaction in a block of its own:
    /// [`DevChain::send_signed`], without the trait in scope.
    pub fn send_signed(&mut self, tx: SignedTransaction) -> Result<TxResult, DevnetError> {
        DevChain::send_signed(self, tx)
    }

    /// The committed block at `height`, transactions included.
    pub fn block(&self, height: u64) -> Result<Block, DevnetError> {
        self.ledger
            .block(height)?
            .ok_or(DevnetError::UnknownHeight(height))
    }

    /// The offset [`DevChain::advance_time`] has added.
    pub fn time_offset(&self) -> u64 {
        self.time_offset_ns
    }

    /// The timestamp the next block will get.
    pub fn next_block_timestamp(&self) -> u64 {
        let head = self.ledger.head();
        let chosen = self.next_timestamp.unwrap_or_else(|| {
            let clock = (head.height + 1).saturating_mul(BLOCK_INTERVAL_NS);
            self.genesis_timestamp
                .saturating_add(clock)
                .saturating_add(self.time_offset_ns)
        });
        chosen.max(head.timestamp_ns.saturating_add(1))
    }

    /// Builds and commits the next block of `txs`; a chosen timestamp is
    /// used up only when a block is committed.
    fn make_block(
        &mut self,
        txs: Vec<SignedTransaction>,
    ) -> Result<(Block, Vec<TxReceipt>), DevnetError> {
        let timestamp = self.next_block_timestamp();
        let mut built = self.ledger.build_block(txs, timestamp, PROPOSER)?;
        if let Some((_, e)) = built.rejected.pop() {
            return Err(DevnetError::Refused(e));
        }
        if let Some(tx) = built.deferred.first() {
            return Err(DevnetError::AboveBlockGasLimit {
                gas_limit: tx.transaction.gas_limit,
                block_gas_limit: self.ledger.params().block_gas_limit,
            });
        }
        let out = (built.block.clone(), built.receipts.clone());
        self.ledger.commit(built)?;
        self.next_timestamp = None;
        Ok(out)
    }

    /// The node's admission checks (`docs/chain.md` 7) for a lone
    /// transaction, then the nonce a block needs.
    fn admit(&self, tx: &SignedTransaction) -> Result<(), DevnetError> {
        if let Some(at) = self.ledger.tx_location(&tx.hash())? {
            return Err(DevnetError::Refused(TxError::AlreadyIncluded(at.height)));
        }
        let account = match self.ledger.check_for_pool(tx) {
            Ok(account) => account,
            Err(TxError::Node(message)) => {
                return Err(detvm_chain::Error::Node(message).into());
            }
            Err(e) => return Err(DevnetError::Refused(e)),
        };
        let t = &tx.transaction;
        if t.nonce > account.nonce {
            return Err(DevnetError::Refused(TxError::FutureNonce {
                expected: account.nonce,
                got: t.nonce,
            }));
        }
        let block_gas_limit = self.ledger.params().block_gas_limit;
        if t.gas_limit > block_gas_limit {
            return Err(DevnetError::AboveBlockGasLimit {
                gas_limit: t.gas_limit,
                block_gas_limit,
            });
        }
        Ok(())
    }
}

impl DevChain for Devnet {
    fn chain_id(&self) -> &str {
        &self.ledger.params().chain_id
    }

    fn genesis_hash(&self) -> [u8; 32] {
        self.ledger.genesis_hash()
    }

    fn head(&self) -> Result<BlockHeader, DevnetError> {
        Ok(self.ledger.head().clone())
    }

    fn header(&self, height: u64) -> Result<BlockHeader, DevnetError> {
        Ok(self.block(height)?.header)
    }

    fn receipts(&self, height: u64) -> Result<Vec<TxReceipt>, DevnetError> {
        self.ledger
            .receipts(height)?
            .ok_or(DevnetError::UnknownHeight(height))
    }

    fn account_state(&self, id: &str) -> Result<Option<Account>, DevnetError> {
        Ok(self.ledger.account(id, None)?)
    }

    fn send_signed(&mut self, tx: SignedTransaction) -> Result<TxResult, DevnetError> {
        self.admit(&tx)?;
        let hash = tx.hash();
        let (block, mut receipts) = self.make_block(vec![tx])?;
        let receipt = receipts.pop().ok_or_else(|| {
            detvm_chain::Error::Corrupt("the block holds no receipt for its transaction".into())
        })?;
        Ok(TxResult {
            receipt,
            height: block.header.height,
            index: 0,
            hash,
        })
    }

    fn view_bytes(
        &self,
        contract: &ContractId,
        method: &str,
        args: &[u8],
        height: Option<u64>,
    ) -> Result<ViewResult, DevnetError> {
        let receipt = self
            .ledger
            .view(contract, method, args, height)
            .map_err(|e| match e {
                detvm_chain::Error::UnknownHeight(h) => DevnetError::UnknownHeight(h),
                detvm_chain::Error::Host(detvm_host::Error::UnknownContract(c)) => {
                    DevnetError::UnknownContract(c)
                }
                detvm_chain::Error::Host(
                    e @ (detvm_host::Error::UnknownMethod { .. }
                    | detvm_host::Error::NotAMethod { .. }
                    | detvm_host::Error::InputTooLong { .. }),
                ) => DevnetError::ViewFailed {
                    kind: e.kind().to_owned(),
                    message: e.to_string(),
                },
                other => DevnetError::Ledger(other),
            })?;
        let outcome = match receipt.outcome {
            detvm_host::ReceiptOutcome::Returned(value) => TxOutcome::Returned { value },
            detvm_host::ReceiptOutcome::Trapped { kind, message } => TxOutcome::Trapped {
                kind: kind.name().to_owned(),
                message,
            },
        };
        Ok(ViewResult {
            outcome,
            gas_used: receipt.gas_used,
            logs: receipt.logs,
        })
    }

    fn snapshot(&mut self) -> Result<Snapshot, DevnetError> {
        self.snapshots
            .push((self.ledger.head().height, self.time_offset_ns));
        Ok(Snapshot(self.snapshots.len() as u64 - 1))
    }

    fn revert(&mut self, snapshot: Snapshot) -> Result<BlockHeader, DevnetError> {
        let Some(&(height, offset)) = usize::try_from(snapshot.0)
            .ok()
            .and_then(|i| self.snapshots.get(i))
        else {
            return Err(DevnetError::UnknownSnapshot(snapshot.0));
        };
        self.ledger.rewind(height)?;
        self.snapshots.truncate(snapshot.0 as usize);
        self.time_offset_ns = offset;
        self.next_timestamp = None;
        Ok(self.ledger.head().clone())
    }

    fn set_next_timestamp(&mut self, timestamp_ns: u64) -> Result<(), DevnetError> {
        let head = self.ledger.head().timestamp_ns;
        if timestamp_ns <= head {
            return Err(DevnetError::TimestampNotForward {
                timestamp: timestamp_ns,
                head,
            });
        }
        self.next_timestamp = Some(timestamp_ns);
        Ok(())
    }

    fn advance_time(&mut self, ns: u64) -> Result<u64, DevnetError> {
        self.time_offset_ns = self.time_offset_ns.saturating_add(ns);
        Ok(self.time_offset_ns)
    }

    fn mine(&mut self) -> Result<BlockHeader, DevnetError> {
        Ok(self.make_block(Vec::new())?.0.header)
    }
}
