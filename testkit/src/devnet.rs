//! [`Devnet`]: a chain in memory that executes through the node's own
//! executor (`detvm_chain::Ledger`): signed transactions from prefunded
//! dev accounts, fees, blocks with state roots, snapshots and time travel.
//! What a test sees here is what `detvm node --dev` does.

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use detvm_chain::{
    Action, BlockHeader, DEV_ACCOUNTS, Genesis, Keypair, Ledger, SignedTransaction, Transaction,
    TxOutcome, TxReceipt,
};
use detvm_host::ContractId;
use detvm_state::StateDb;

use crate::Error;

/// The proposer named in a devnet's blocks: the dev node's, so the same
/// transactions at the same timestamps give the same block hashes.
pub const PROPOSER: &str = "dev";

/// Time between blocks whose timestamp no one chose: one second.
pub const BLOCK_INTERVAL_NS: u64 = 1_000_000_000;

/// A development chain in memory (see the module documentation).
///
/// Each [`Tx::send`] makes one block holding that transaction. Block `h`
/// is at `genesis timestamp + h` seconds plus whatever
/// [`Devnet::advance_time`] added, unless [`Devnet::set_next_timestamp`]
/// chose the next block's timestamp. Views see the head block's height and
/// timestamp, so moved time shows in views once a block is made after it.
pub struct Devnet {
    ledger: Ledger,
    next_timestamp: Option<u64>,
    time_offset_ns: u64,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet")
            .field("height", &self.ledger.head().height)
            .finish_non_exhaustive()
    }
}

/// A point to come back to with [`Devnet::revert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    height: u64,
    time_offset_ns: u64,
}

impl Default for Devnet {
    fn default() -> Self {
        Self::new()
    }
}

impl Devnet {
    /// The dev chain of `detvm node --dev`: chain id `detvm-dev`,
    /// [`DEV_ACCOUNTS`] prefunded accounts. Panics only if the in-memory
    /// database cannot be made (use [`Devnet::try_new`] to handle that).
    pub fn new() -> Self {
        match Self::try_new() {
            Ok(devnet) => devnet,
            Err(e) => panic!("cannot make a devnet: {e}"),
        }
    }

    /// [`Devnet::new`], returning errors.
    pub fn try_new() -> Result<Self, Error> {
        Self::with_genesis(&Genesis::dev())
    }

    /// A chain from another genesis.
    pub fn with_genesis(genesis: &Genesis) -> Result<Self, Error> {
        let db = StateDb::in_memory().map_err(detvm_chain::Error::from)?;
        Ok(Self {
            ledger: Ledger::open(Arc::new(db), genesis)?,
            next_timestamp: None,
            time_offset_ns: 0,
        })
    }

    /// The executor, for anything this API does not cover.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The key of dev account `index` (below [`DEV_ACCOUNTS`]).
    pub fn key(&self, index: u32) -> Keypair {
        Keypair::dev(index)
    }

    /// The account id of dev account `index`.
    pub fn id(&self, index: u32) -> String {
        Keypair::dev(index).implicit_id()
    }

    /// The committed balance of `id` (0 if it has no account).
    pub fn balance(&self, id: &str) -> Result<u128, Error> {
        Ok(self.ledger.account(id, None)?.map_or(0, |a| a.balance))
    }

    /// The next nonce of `id`.
    pub fn nonce(&self, id: &str) -> Result<u64, Error> {
        Ok(self.ledger.account(id, None)?.map_or(0, |a| a.nonce))
    }

    /// The last block's header.
    pub fn head(&self) -> &BlockHeader {
        self.ledger.head()
    }

    /// The receipts of block `height`.
    pub fn receipts(&self, height: u64) -> Result<Vec<TxReceipt>, Error> {
        Ok(self.ledger.receipts(height)?.unwrap_or_default())
    }

    /// A deploy of `code`.
    pub fn deploy(&mut self, code: &[u8]) -> Tx<'_> {
        Tx::new(self, deploy_action(code))
    }

    /// A call of `method` with `args` (the borsh tuple of its parameters).
    pub fn call<A: BorshSerialize + ?Sized>(
        &mut self,
        contract: &str,
        method: &str,
        args: &A,
    ) -> Tx<'_> {
        Tx::new(self, call_action(contract, method, args))
    }

    /// A transfer of native tokens.
    pub fn transfer(&mut self, to: &str, amount: u128) -> Tx<'_> {
        Tx::new(self, transfer_action(to, amount))
    }

    /// Runs `method` read-only on the head's state (or at `height`).
    pub fn view<A: BorshSerialize + ?Sized>(
        &self,
        contract: &str,
        method: &str,
        args: &A,
        height: Option<u64>,
    ) -> Result<detvm_host::Receipt, Error> {
        let id = ContractId::parse(contract).ok_or_else(|| Error::NoContract {
            name: contract.to_owned(),
            reason: "not a contract id".into(),
        })?;
        let args = borsh::to_vec(args).unwrap_or_default();
        Ok(self.ledger.view(&id, method, &args, height)?)
    }

    /// A snapshot of the chain as it is now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            height: self.ledger.head().height,
            time_offset_ns: self.time_offset_ns,
        }
    }

    /// Undoes every block after `snapshot` (and the time moved since).
    pub fn revert(&mut self, snapshot: Snapshot) -> Result<(), Error> {
        self.ledger.rewind(snapshot.height)?;
        self.time_offset_ns = snapshot.time_offset_ns;
        self.next_timestamp = None;
        Ok(())
    }

    /// The next block's timestamp (it must be after the head's; a smaller
    /// one is raised to one nanosecond after it).
    pub fn set_next_timestamp(&mut self, ns: u64) {
        self.next_timestamp = Some(ns);
    }

    /// Moves the clock of every later block forward by `ns`.
    pub fn advance_time(&mut self, ns: u64) {
        self.time_offset_ns = self.time_offset_ns.saturating_add(ns);
    }

    /// Sends an already signed transaction in a block of its own (a
    /// transaction built with [`Tx::signed`], or by other tools).
    pub fn send_signed(&mut self, tx: SignedTransaction) -> Result<TxResult, Error> {
        let hash = tx.hash();
        let built = self.block(vec![tx])?;
        let receipt = built
            .receipts
            .into_iter()
            .next()
            .ok_or_else(|| Error::NoReturnValue("the block holds no receipt".into()))?;
        Ok(TxResult {
            receipt,
            height: built.block.header.height,
            hash,
        })
    }

    /// Makes an empty block.
    pub fn mine(&mut self) -> Result<&BlockHeader, Error> {
        self.block(Vec::new())?;
        Ok(self.ledger.head())
    }

    fn next_timestamp(&mut self) -> u64 {
        let height = self.ledger.head().height + 1;
        self.next_timestamp.take().unwrap_or_else(|| {
            let genesis = self
                .ledger
                .block(0)
                .ok()
                .flatten()
                .map_or(0, |b| b.header.timestamp_ns);
            genesis
                .saturating_add(height.saturating_mul(BLOCK_INTERVAL_NS))
                .saturating_add(self.time_offset_ns)
        })
    }

    fn block(&mut self, txs: Vec<SignedTransaction>) -> Result<detvm_chain::BuiltBlock, Error> {
        let ts = self.next_timestamp();
        let mut built = self.ledger.build_block(txs, ts, PROPOSER)?;
        if let Some((_, e)) = built.rejected.pop() {
            return Err(Error::Refused(e));
        }
        self.ledger.commit(built.clone())?;
        Ok(built)
    }
}

/// Gas limit of transactions that do not choose one: enough for any
/// example contract, far below the block limit.
pub const DEFAULT_GAS_LIMIT: u64 = 1_000_000_000;

/// A deploy action.
pub(crate) fn deploy_action(code: &[u8]) -> Action {
    Action::Deploy {
        code: code.to_vec(),
    }
}

/// A call action with borsh-encoded `args`.
pub(crate) fn call_action<A: BorshSerialize + ?Sized>(
    contract: &str,
    method: &str,
    args: &A,
) -> Action {
    Action::Call {
        contract: contract.to_owned(),
        method: method.to_owned(),
        args: borsh::to_vec(args).unwrap_or_default(),
        amount: 0,
    }
}

/// A transfer action.
pub(crate) fn transfer_action(to: &str, amount: u128) -> Action {
    Action::Transfer {
        to: to.to_owned(),
        amount,
    }
}

/// Where a [`Tx`] goes: a [`Devnet`] in memory or a node over RPC
/// ([`crate::RemoteDevnet`]). A test written against this trait runs on
/// both.
pub trait DevChain {
    /// The chain id transactions are signed for.
    fn chain_id(&self) -> Result<String, Error>;
    /// The next nonce of `id`.
    fn next_nonce(&self, id: &str) -> Result<u64, Error>;
    /// Sends a signed transaction and returns what its block did with it.
    fn send_signed(&mut self, tx: SignedTransaction) -> Result<TxResult, Error>;
}

impl DevChain for Devnet {
    fn chain_id(&self) -> Result<String, Error> {
        Ok(self.ledger.params().chain_id.clone())
    }

    fn next_nonce(&self, id: &str) -> Result<u64, Error> {
        self.nonce(id)
    }

    fn send_signed(&mut self, tx: SignedTransaction) -> Result<TxResult, Error> {
        Devnet::send_signed(self, tx)
    }
}

/// A transaction being built; [`Tx::send`] signs it and sends it.
#[must_use = "a transaction does nothing until it is sent"]
pub struct Tx<'a> {
    chain: &'a mut dyn DevChain,
    action: Action,
    key: Keypair,
    gas_limit: u64,
}

impl<'a> Tx<'a> {
    /// A transaction of `action` from dev account 0 with
    /// [`DEFAULT_GAS_LIMIT`].
    pub fn new(chain: &'a mut dyn DevChain, action: Action) -> Self {
        Self {
            chain,
            action,
            key: Keypair::dev(0),
            gas_limit: DEFAULT_GAS_LIMIT,
        }
    }

    /// Sends from dev account `index` (default 0).
    pub fn from(mut self, index: u32) -> Self {
        self.key = Keypair::dev(index);
        self
    }

    /// Sends from the implicit account of `key`.
    pub fn signer(mut self, key: &Keypair) -> Self {
        self.key = key.clone();
        self
    }

    /// Attaches `amount` to a call.
    pub fn amount(mut self, amount: u128) -> Self {
        if let Action::Call { amount: a, .. } = &mut self.action {
            *a = amount;
        }
        self
    }

    /// Sets the gas limit.
    pub fn gas_limit(mut self, gas: u64) -> Self {
        self.gas_limit = gas;
        self
    }

    /// The signed transaction this would send.
    pub fn signed(&self) -> Result<SignedTransaction, Error> {
        let signer = self.key.implicit_id();
        Ok(Transaction {
            chain_id: self.chain.chain_id()?,
            nonce: self.chain.next_nonce(&signer)?,
            signer,
            public_key: self.key.public_key(),
            gas_limit: self.gas_limit,
            action: self.action.clone(),
        }
        .sign(&self.key))
    }

    /// Signs and sends it in a block of its own. A transaction that is
    /// not valid is an [`Error::Refused`] and changes nothing.
    pub fn send(self) -> Result<TxResult, Error> {
        let tx = self.signed()?;
        self.chain.send_signed(tx)
    }
}

/// What a sent transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxResult {
    /// Its receipt, as the node stores it.
    pub receipt: TxReceipt,
    /// Its block.
    pub height: u64,
    /// Its hash.
    pub hash: [u8; 32],
}

impl TxResult {
    /// Panics unless the transaction did what it asked.
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.receipt.outcome.is_success(),
            "expected success, got {:?}",
            self.receipt.outcome
        );
        self
    }

    /// Panics unless the transaction is a call that trapped with `kind`.
    pub fn assert_trap(&self, kind: &str) -> &Self {
        match &self.receipt.outcome {
            TxOutcome::Trapped { kind: k, .. } if k == kind => self,
            other => panic!("expected a `{kind}` trap, got {other:?}"),
        }
    }

    /// The deployed contract's id; panics if this was not a deploy that
    /// succeeded.
    pub fn contract_id(&self) -> String {
        match &self.receipt.outcome {
            TxOutcome::Deployed { contract, .. } => contract.clone(),
            other => panic!("expected a deploy, got {other:?}"),
        }
    }

    /// The call's return value decoded as `T`; panics if it did not return
    /// or does not decode.
    pub fn returned<T: BorshDeserialize>(&self) -> T {
        match &self.receipt.outcome {
            TxOutcome::Returned { value } => match T::try_from_slice(value) {
                Ok(v) => v,
                Err(e) => panic!("the return value does not decode: {e}"),
            },
            other => panic!("expected a return value, got {other:?}"),
        }
    }

    /// Whether the transaction did what it asked.
    pub fn is_success(&self) -> bool {
        self.receipt.outcome.is_success()
    }
}

/// How many dev accounts a [`Devnet`] funds.
pub const ACCOUNTS: u32 = DEV_ACCOUNTS;
