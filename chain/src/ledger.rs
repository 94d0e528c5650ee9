//! The executor: validates and executes transactions, builds and applies
//! blocks, and commits them with their state root (`docs/chain.md`,
//! sections 3 to 6). The node, the command line and the test kit all run
//! transactions through [`Ledger`].

use std::sync::Arc;

use detvm_host::{CallContext, Chain, ContractId, Storage};
use detvm_state::{ChangeSet, Root, SideTable, SideWrite, StateDb};

use crate::block::{Block, BlockHeader, merkle_root};
use crate::genesis::{ChainParams, Genesis};
use crate::keys::account_kind;
use crate::receipt::{TxOutcome, TxReceipt};
use crate::state::{Account, AtHeight, PARAMS_KEY, Staged, account_key, decode_account};
use crate::tx::{Action, SignedTransaction};
use crate::{Error, TxError};

/// Meta key: the genesis hash.
const META_GENESIS: &[u8] = b"genesis_hash";
/// Meta key prefix: block hash → height.
const META_BLOCK_HASH: &[u8] = b"block_hash/";

/// Where a transaction was included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct TxLocation {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
}

/// What an event index lookup selects: the events of one contract, or
/// the events with one topic at one position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSelector {
    /// Events this contract emitted.
    Contract(String),
    /// Events whose topic at `position` is `topic`.
    Topic {
        /// 0 for the first topic.
        position: u8,
        /// The topic.
        topic: [u8; 32],
    },
}

impl EventSelector {
    /// The index key prefix (`docs/chain.md` §6).
    fn prefix(&self) -> Vec<u8> {
        match self {
            // Account ids are at most 64 bytes: the length fits a byte.
            Self::Contract(id) => [&[b'c', id.len() as u8][..], id.as_bytes()].concat(),
            Self::Topic { position, topic } => [&[b't', *position][..], &topic[..]].concat(),
        }
    }
}

/// Where an event was emitted: its block, its transaction's position and
/// its number among the transaction's events in emission order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventLocation {
    /// Block height.
    pub height: u64,
    /// Position of the transaction in the block.
    pub tx_index: u32,
    /// Position in [`TxReceipt::all_events`].
    pub event_index: u32,
}

impl EventLocation {
    fn key(&self) -> [u8; 16] {
        let mut key = [0; 16];
        key[..8].copy_from_slice(&self.height.to_be_bytes());
        key[8..12].copy_from_slice(&self.tx_index.to_be_bytes());
        key[12..].copy_from_slice(&self.event_index.to_be_bytes());
        key
    }

    fn from_key(key: &[u8]) -> Option<Self> {
        let key: &[u8; 16] = key.try_into().ok()?;
        Some(Self {
            height: u64::from_be_bytes(key[..8].try_into().ok()?),
            tx_index: u32::from_be_bytes(key[8..12].try_into().ok()?),
            event_index: u32::from_be_bytes(key[12..].try_into().ok()?),
        })
    }
}

/// A block built by [`Ledger::build_block`], not yet committed.
#[derive(Debug, Clone)]
pub struct BuiltBlock {
    /// The block.
    pub block: Block,
    /// Its receipts, in transaction order.
    pub receipts: Vec<TxReceipt>,
    /// Offered transactions left out because they were invalid at their
    /// turn, with the reason.
    pub rejected: Vec<(SignedTransaction, TxError)>,
    /// Offered transactions that did not fit (gas or count limit).
    pub deferred: Vec<SignedTransaction>,
    /// Per transaction, the host calls it made (only when tracing).
    pub traces: Vec<Vec<detvm_host::HostCallTrace>>,
    changes: ChangeSet,
}

/// The chain's executor over one [`StateDb`].
pub struct Ledger {
    db: Arc<StateDb>,
    staged: Arc<Staged>,
    chain: Chain,
    params: ChainParams,
    head: BlockHeader,
    genesis_hash: [u8; 32],
    /// A scratch ledger over a past state (tracing): it records host
    /// calls and never commits.
    scratch: bool,
    /// The host calls of the last executed call, when `scratch`.
    last_trace: Vec<detvm_host::HostCallTrace>,
    /// Transactions whose signatures verified (see [`Ledger::verified`]).
    verified: std::sync::Mutex<std::collections::BTreeSet<([u8; 32], [u8; 64])>>,
}

/// Most remembered signature checks; the set is emptied when full.
const VERIFIED_CACHE: usize = 100_000;

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("chain_id", &self.params.chain_id)
            .field("height", &self.head.height)
            .finish_non_exhaustive()
    }
}

fn borsh_bytes<T: borsh::BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).unwrap_or_default()
}

fn decode<T: borsh::BorshDeserialize>(bytes: &[u8], what: &str) -> Result<T, Error> {
    T::try_from_slice(bytes).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}

impl Ledger {
    /// Opens the chain stored in `db`, writing `genesis` as block 0 if the
    /// database is empty. A database holding another chain is refused.
    pub fn open(db: Arc<StateDb>, genesis: &Genesis) -> Result<Self, Error> {
        let (params, accounts) = genesis.resolve()?;
        let staged = Arc::new(Staged::new(db.clone()));
        let chain = Chain::with_storage(staged.clone() as Arc<dyn Storage>)?;
        let mut changes = ChangeSet::new();
        changes.insert(PARAMS_KEY.to_vec(), Some(borsh_bytes(&params)));
        for (id, account) in &accounts {
            changes.insert(account_key(id), Some(borsh_bytes(account)));
        }
        // The genesis state, and so the genesis hash every validator signs
        // under, commits to the validator set.
        let validators = genesis.validator_set()?;
        if !validators.is_empty() {
            changes.insert(
                crate::state::VALIDATORS_KEY.to_vec(),
                Some(borsh_bytes(&validators)),
            );
        }
        let expected_root = detvm_state::root_of(&changes)?;
        let genesis_header = BlockHeader {
            height: 0,
            parent_hash: [0; 32],
            timestamp_ns: genesis.timestamp_ns,
            proposer: "genesis".into(),
            tx_root: merkle_root(&[]),
            receipts_root: merkle_root(&[]),
            state_root: expected_root,
            gas_used: 0,
        };
        let genesis_hash = genesis_header.hash();
        let head = match db.latest_version()? {
            None => {
                let block = Block {
                    header: genesis_header.clone(),
                    dev_changes: Vec::new(),
                    transactions: Vec::new(),
                };
                let side = Self::side_records(&block, &[]);
                let mut side = side;
                side.push(SideWrite {
                    table: SideTable::Meta,
                    key: META_GENESIS.to_vec(),
                    value: genesis_hash.to_vec(),
                });
                let root = db.commit(0, &changes, &side)?;
                if root != expected_root {
                    return Err(Error::Corrupt(
                        "genesis state root differs from its computation".into(),
                    ));
                }
                genesis_header
            }
            Some(latest) => {
                let stored = db.side_get(SideTable::Meta, META_GENESIS)?;
                if stored.as_deref() != Some(&genesis_hash[..]) {
                    return Err(Error::GenesisMismatch {
                        stored: stored.map(|h| detvm_host::hex(&h)).unwrap_or_default(),
                        given: detvm_host::hex(&genesis_hash),
                    });
                }
                Self::stored_block(&db, latest)?
                    .ok_or_else(|| Error::Corrupt(format!("block {latest} is missing")))?
                    .header
            }
        };
        Ok(Self {
            db,
            staged,
            chain,
            params,
            head,
            genesis_hash,
            scratch: false,
            last_trace: Vec::new(),
            verified: std::sync::Mutex::new(std::collections::BTreeSet::new()),
        })
    }

    fn stored_block(db: &StateDb, height: u64) -> Result<Option<Block>, Error> {
        db.side_get(SideTable::Blocks, &height.to_be_bytes())?
            .map(|b| decode(&b, "stored block"))
            .transpose()
    }

    /// The chain parameters.
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// The hash of block 0.
    pub fn genesis_hash(&self) -> [u8; 32] {
        self.genesis_hash
    }

    /// The last committed block's header.
    pub fn head(&self) -> &BlockHeader {
        &self.head
    }

    /// The database.
    pub fn db(&self) -> &Arc<StateDb> {
        &self.db
    }

    /// The contract runtime (engine, module cache, host fees).
    pub fn host(&self) -> &Chain {
        &self.chain
    }

    /// The committed block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>, Error> {
        Self::stored_block(&self.db, height)
    }

    /// The height of the committed block with `hash`.
    pub fn height_of(&self, hash: &[u8; 32]) -> Result<Option<u64>, Error> {
        let key = [META_BLOCK_HASH, &hash[..]].concat();
        self.db
            .side_get(SideTable::Meta, &key)?
            .map(|b| decode(&b, "block index"))
            .transpose()
    }

    /// The receipts of the committed block at `height`.
    pub fn receipts(&self, height: u64) -> Result<Option<Vec<TxReceipt>>, Error> {
        self.db
            .side_get(SideTable::Receipts, &height.to_be_bytes())?
            .map(|b| decode(&b, "stored receipts"))
            .transpose()
    }

    /// Where the transaction with `hash` was included.
    pub fn tx_location(&self, hash: &[u8; 32]) -> Result<Option<TxLocation>, Error> {
        self.db
            .side_get(SideTable::TxIndex, hash)?
            .map(|b| decode(&b, "transaction index"))
            .transpose()
    }

    /// The committed account `id`, as of the head or of `height`.
    pub fn account(&self, id: &str, height: Option<u64>) -> Result<Option<Account>, Error> {
        let key = account_key(id);
        let bytes = match height {
            None => self.db.get(&key)?,
            Some(h) => self.db.get_at(&key, h)?,
        };
        bytes.map(|b| decode_account(id, &b)).transpose()
    }

    fn read_account(&self, id: &str) -> Result<Option<Account>, Error> {
        self.staged
            .get(&account_key(id))?
            .map(|b| decode_account(id, &b))
            .transpose()
    }

    fn write_account(&self, id: &str, account: &Account) -> Result<(), Error> {
        self.staged.set(&account_key(id), &borsh_bytes(account))?;
        Ok(())
    }

    /// Intrinsic gas of a transaction of `size` encoded bytes.
    pub fn intrinsic_gas(&self, size: usize) -> u64 {
        self.params
            .tx_base_gas
            .saturating_add(self.params.tx_byte_gas.saturating_mul(size as u64))
    }

    /// Checks validity rules 1–4 and 6 of `docs/chain.md` 3.1 (everything
    /// but the nonce and the balance) and returns the signer's account and
    /// the transaction's intrinsic gas.
    fn check_static(&self, tx: &SignedTransaction) -> Result<(Account, u64), TxError> {
        let size = tx.size();
        if size > self.params.max_tx_bytes as usize {
            return Err(TxError::TooLarge {
                size,
                max: self.params.max_tx_bytes as usize,
            });
        }
        let t = &tx.transaction;
        if t.chain_id != self.params.chain_id {
            return Err(TxError::WrongChainId {
                expected: self.params.chain_id.clone(),
                got: t.chain_id.clone(),
            });
        }
        if account_kind(&t.signer).is_err() {
            return Err(TxError::UnknownSigner(t.signer.clone()));
        }
        let stored = self
            .read_account(&t.signer)
            .map_err(|e| TxError::Node(e.to_string()))?;
        let account = if self.is_impersonated(tx) {
            // A dev chain takes unsigned transactions from any account
            // (section 8); one that does not exist yet starts empty.
            stored.unwrap_or_else(|| Account {
                public_key: crate::keys::implicit_key(&t.signer),
                ..Account::default()
            })
        } else {
            let account = stored.ok_or_else(|| TxError::UnknownSigner(t.signer.clone()))?;
            if account.public_key != Some(t.public_key) {
                return Err(TxError::WrongKey(t.signer.clone()));
            }
            if !self.verified(tx) {
                return Err(TxError::BadSignature);
            }
            account
        };
        let min = self.intrinsic_gas(size);
        if t.gas_limit < min {
            return Err(TxError::GasLimitTooLow {
                gas_limit: t.gas_limit,
                min,
            });
        }
        Ok((account, min))
    }

    /// Whether `tx` is an unsigned transaction a dev chain accepts: an
    /// all-zero signature (`docs/chain.md`, section 8).
    pub fn is_impersonated(&self, tx: &SignedTransaction) -> bool {
        self.params.dev && tx.signature == [0; 64]
    }

    /// Whether the signature is valid, remembering valid ones: a node
    /// checks a transaction when it enters the mempool and again when it
    /// executes it, and verification is most of a transfer's cost. The
    /// result of a check never changes, so remembering it cannot change
    /// any outcome.
    fn verified(&self, tx: &SignedTransaction) -> bool {
        let id = (tx.hash(), tx.signature);
        let mut cache = match self.verified.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if cache.contains(&id) {
            return true;
        }
        if !tx.signature_valid() {
            return false;
        }
        if cache.len() >= VERIFIED_CACHE {
            cache.clear();
        }
        cache.insert(id);
        true
    }

    /// The most a transaction can cost its signer: `gas_limit × gas_price
    /// + amount`, or `None` if that overflows.
    pub fn max_cost(&self, tx: &SignedTransaction) -> Option<u128> {
        u128::from(tx.transaction.gas_limit)
            .checked_mul(self.params.gas_price)?
            .checked_add(tx.transaction.action.amount())
    }

    /// Checks a transaction for the mempool against the committed state:
    /// every rule of `docs/chain.md` 3.1 but that the nonce may be in the
    /// future. Returns the signer's committed account.
    pub fn check_for_pool(&self, tx: &SignedTransaction) -> Result<Account, TxError> {
        let (account, _) = self.check_static(tx)?;
        if tx.transaction.nonce < account.nonce {
            return Err(TxError::StaleNonce {
                expected: account.nonce,
                got: tx.transaction.nonce,
            });
        }
        let cost = self.max_cost(tx).ok_or(TxError::InsufficientBalance {
            need: u128::MAX,
            have: account.balance,
        })?;
        if cost > account.balance {
            return Err(TxError::InsufficientBalance {
                need: cost,
                have: account.balance,
            });
        }
        Ok(account)
    }

    /// Validates (3.1) and executes (3.2) one transaction on the staged
    /// state; an invalid transaction changes nothing.
    fn execute_tx(
        &mut self,
        tx: &SignedTransaction,
        height: u64,
        timestamp_ns: u64,
    ) -> Result<Result<TxReceipt, TxError>, Error> {
        let (account, g0) = match self.check_static(tx) {
            Ok(checked) => checked,
            Err(TxError::Node(message)) => return Err(Error::Node(message)),
            Err(e) => return Ok(Err(e)),
        };
        let t = &tx.transaction;
        if t.nonce != account.nonce {
            let e = if t.nonce < account.nonce {
                TxError::StaleNonce {
                    expected: account.nonce,
                    got: t.nonce,
                }
            } else {
                TxError::FutureNonce {
                    expected: account.nonce,
                    got: t.nonce,
                }
            };
            return Ok(Err(e));
        }
        match self.max_cost(tx) {
            Some(cost) if cost <= account.balance => {}
            cost => {
                return Ok(Err(TxError::InsufficientBalance {
                    need: cost.unwrap_or(u128::MAX),
                    have: account.balance,
                }));
            }
        }
        // An impersonated signer without a record gets one now.
        self.write_account(&t.signer, &account)?;
        let (outcome, gas_used, record) = self.run_action(tx, g0, height, timestamp_ns)?;
        // Fee and nonce stick whatever happened; re-read: the action may
        // have changed the signer's balance (a transfer). A trapped call's
        // rollback may have dropped the record written above.
        let mut signer = self.read_account(&t.signer)?.unwrap_or(account);
        let fee = u128::from(gas_used).saturating_mul(self.params.gas_price);
        signer.balance = signer
            .balance
            .checked_sub(fee)
            .ok_or_else(|| Error::Corrupt("fee above the checked balance".into()))?;
        signer.nonce += 1;
        self.write_account(&t.signer, &signer)?;
        let state_changes = self.staged.finish_tx();
        Ok(Ok(TxReceipt {
            tx_hash: tx.hash(),
            outcome,
            gas_used,
            fee,
            logs: record.logs,
            state_changes,
            events: record.events,
            calls: record.calls,
        }))
    }

    /// Moves `amount` from `from` to `to` (which exists or is created);
    /// the caller has checked the balance.
    fn move_amount(&self, from: &str, to: &str, amount: u128) -> Result<(), Error> {
        if from == to || amount == 0 {
            return Ok(());
        }
        let mut sender = self
            .read_account(from)?
            .ok_or_else(|| Error::Corrupt(format!("account {from} vanished")))?;
        sender.balance = sender
            .balance
            .checked_sub(amount)
            .ok_or_else(|| Error::Corrupt("amount above the checked balance".into()))?;
        self.write_account(from, &sender)?;
        let mut receiver = self.read_account(to)?.unwrap_or_default();
        if receiver.public_key.is_none() {
            receiver.public_key = crate::keys::implicit_key(to);
        }
        // Balances add up to at most the genesis total, which fits.
        receiver.balance = receiver.balance.saturating_add(amount);
        self.write_account(to, &receiver)
    }

    fn run_action(
        &mut self,
        tx: &SignedTransaction,
        g0: u64,
        height: u64,
        timestamp_ns: u64,
    ) -> Result<(TxOutcome, u64, CallRecord), Error> {
        let t = &tx.transaction;
        let failed = |kind: &str, message: String| TxOutcome::Failed {
            kind: kind.to_owned(),
            message,
        };
        let out_of_gas = || {
            failed(
                "out_of_gas",
                format!("gas limit {} is below what the action needs", t.gas_limit),
            )
        };
        match &t.action {
            Action::Transfer { to, amount } => {
                let gas = g0.saturating_add(self.params.transfer_gas);
                if gas > t.gas_limit {
                    return Ok((out_of_gas(), t.gas_limit, CallRecord::default()));
                }
                let stored = match account_kind(to) {
                    Ok(_) => self.read_account(to)?,
                    Err(_) => None,
                };
                if detvm_host::receiving_account(to, stored).is_none() {
                    let outcome = failed("unknown_account", format!("no account `{to}`"));
                    return Ok((outcome, gas, CallRecord::default()));
                }
                self.move_amount(&t.signer, to, *amount)?;
                Ok((TxOutcome::Transferred, gas, CallRecord::default()))
            }
            Action::Deploy { code } => {
                let gas = g0.saturating_add(self.chain.fees().deploy_gas(code.len() as u64));
                if gas > t.gas_limit {
                    return Ok((out_of_gas(), t.gas_limit, CallRecord::default()));
                }
                match self.chain.deploy(code, &t.signer) {
                    Ok(receipt) => {
                        // The host gave the contract an account record.
                        let outcome = TxOutcome::Deployed {
                            contract: receipt.contract.to_string(),
                            code_hash: receipt.code_hash,
                        };
                        Ok((outcome, gas, CallRecord::default()))
                    }
                    Err(detvm_host::Error::Rejected(rejection)) => {
                        self.staged.rollback_tx();
                        let outcome = failed(rejection.kind(), rejection.to_string());
                        Ok((outcome, gas, CallRecord::default()))
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Action::Call {
                contract,
                method,
                args,
                amount,
            } => {
                let Some(id) = ContractId::parse(contract) else {
                    let outcome = failed(
                        "unknown_contract",
                        format!("`{contract}` is not a contract id"),
                    );
                    return Ok((outcome, g0, CallRecord::default()));
                };
                if !self.chain.contains(&id)? {
                    let outcome = failed("unknown_contract", format!("no contract `{contract}`"));
                    return Ok((outcome, g0, CallRecord::default()));
                }
                // The host moves the amount in the call's own write layer,
                // so a trapped call moves nothing.
                let ctx = CallContext {
                    caller: t.signer.clone(),
                    gas: t.gas_limit - g0,
                    block_height: height,
                    block_timestamp: timestamp_ns,
                    amount: *amount,
                };
                let called = self.chain.call(&id, method, args, &ctx);
                if self.scratch {
                    self.last_trace = self.chain.take_trace();
                }
                match called {
                    Ok(receipt) => {
                        let gas = g0.saturating_add(receipt.gas_used);
                        let outcome = match receipt.outcome {
                            detvm_host::ReceiptOutcome::Returned(value) => {
                                TxOutcome::Returned { value }
                            }
                            detvm_host::ReceiptOutcome::Trapped { kind, message } => {
                                self.staged.rollback_tx();
                                TxOutcome::Trapped {
                                    kind: kind.name().to_owned(),
                                    message,
                                }
                            }
                        };
                        let record = CallRecord {
                            logs: receipt.logs,
                            events: receipt.events,
                            calls: receipt.calls,
                        };
                        Ok((outcome, gas, record))
                    }
                    Err(e) if e.is_refusal() => {
                        self.staged.rollback_tx();
                        Ok((failed(e.kind(), e.to_string()), g0, CallRecord::default()))
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Builds the next block from `offered` transactions, in order:
    /// invalid ones are left out (and reported), ones beyond the block's
    /// gas or count limit are deferred. Nothing is committed until
    /// [`Self::commit`]. `timestamp_ns` is raised to one above the
    /// parent's if it is not above it.
    pub fn build_block(
        &mut self,
        offered: Vec<SignedTransaction>,
        timestamp_ns: u64,
        proposer: &str,
    ) -> Result<BuiltBlock, Error> {
        self.build_block_with(Vec::new(), offered, timestamp_ns, proposer)
    }

    /// [`Self::build_block`] on a dev chain, with `dev_changes` applied to
    /// the state before the transactions (`docs/chain.md`, section 8).
    pub fn build_block_with(
        &mut self,
        dev_changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
        offered: Vec<SignedTransaction>,
        timestamp_ns: u64,
        proposer: &str,
    ) -> Result<BuiltBlock, Error> {
        self.staged.discard();
        if !dev_changes.is_empty() {
            if !self.params.dev {
                return Err(Error::InvalidBlock {
                    height: self.head.height + 1,
                    why: "direct state changes on a chain that is not a dev chain".into(),
                });
            }
            self.staged.apply(&dev_changes)?;
            self.staged.finish_tx();
        }
        let height = self.head.height + 1;
        let timestamp_ns = timestamp_ns.max(self.head.timestamp_ns.saturating_add(1));
        let mut transactions = Vec::new();
        let mut receipts = Vec::new();
        let mut rejected = Vec::new();
        let mut deferred = Vec::new();
        let mut traces = Vec::new();
        let mut gas_limits: u64 = 0;
        for tx in offered {
            let full = transactions.len() >= self.params.max_block_txs as usize
                || gas_limits.saturating_add(tx.transaction.gas_limit)
                    > self.params.block_gas_limit;
            if full {
                deferred.push(tx);
                continue;
            }
            match self.execute_tx(&tx, height, timestamp_ns) {
                Ok(Ok(receipt)) => {
                    gas_limits += tx.transaction.gas_limit;
                    receipts.push(receipt);
                    transactions.push(tx);
                    if self.scratch {
                        traces.push(std::mem::take(&mut self.last_trace));
                    }
                }
                Ok(Err(e)) => {
                    self.staged.rollback_tx();
                    rejected.push((tx, e));
                }
                Err(e) => {
                    self.staged.discard();
                    return Err(e);
                }
            }
        }
        let changes = self.staged.take_block();
        // A scratch ledger's base is a past state: no root to compute.
        let state_root = if self.scratch {
            [0; 32]
        } else {
            self.db.root_after(&changes)?
        };
        let header = BlockHeader {
            height,
            parent_hash: self.head.hash(),
            timestamp_ns,
            proposer: proposer.to_owned(),
            // Each receipt carries its transaction's hash: no rehashing.
            tx_root: merkle_root(&receipts.iter().map(|r| r.tx_hash).collect::<Vec<_>>()),
            receipts_root: merkle_root(&receipts.iter().map(|r| r.hash()).collect::<Vec<_>>()),
            state_root,
            gas_used: receipts
                .iter()
                .map(|r| r.gas_used)
                .fold(0, u64::saturating_add),
        };
        Ok(BuiltBlock {
            block: Block {
                header,
                dev_changes,
                transactions,
            },
            receipts,
            rejected,
            deferred,
            traces,
            changes,
        })
    }

    /// Re-executes `block` on the head and checks it is valid
    /// (`docs/chain.md` section 5) without committing it.
    pub fn verify_block(&mut self, block: &Block) -> Result<BuiltBlock, Error> {
        let h = &block.header;
        let invalid = |why: String| {
            Err(Error::InvalidBlock {
                height: h.height,
                why,
            })
        };
        if h.height != self.head.height + 1 {
            return invalid(format!(
                "height {} does not follow {}",
                h.height, self.head.height
            ));
        }
        if h.parent_hash != self.head.hash() {
            return invalid("parent hash is not the head's".into());
        }
        if h.timestamp_ns <= self.head.timestamp_ns {
            return invalid("timestamp does not move forward".into());
        }
        let offered = block.transactions.clone();
        let built = self.build_block_with(
            block.dev_changes.clone(),
            offered,
            h.timestamp_ns,
            &h.proposer,
        )?;
        if let Some((tx, e)) = built.rejected.first() {
            return invalid(format!(
                "transaction {} is invalid: {e}",
                detvm_host::hex(&tx.hash())
            ));
        }
        if !built.deferred.is_empty() {
            return invalid("transactions beyond the block's gas or count limit".into());
        }
        let mine = &built.block.header;
        for (name, ours, theirs) in [
            ("tx_root", mine.tx_root, h.tx_root),
            ("receipts_root", mine.receipts_root, h.receipts_root),
            ("state_root", mine.state_root, h.state_root),
        ] {
            if ours != theirs {
                return invalid(format!(
                    "{name} is {} but execution gives {}",
                    detvm_host::hex(&theirs),
                    detvm_host::hex(&ours)
                ));
            }
        }
        if mine.gas_used != h.gas_used {
            return invalid(format!(
                "gas_used is {} but execution gives {}",
                h.gas_used, mine.gas_used
            ));
        }
        Ok(built)
    }

    fn side_records(block: &Block, receipts: &[TxReceipt]) -> Vec<SideWrite> {
        let height = block.header.height;
        let mut side = vec![
            SideWrite {
                table: SideTable::Blocks,
                key: height.to_be_bytes().to_vec(),
                value: borsh_bytes(block),
            },
            SideWrite {
                table: SideTable::Receipts,
                key: height.to_be_bytes().to_vec(),
                value: borsh_bytes(&receipts.to_vec()),
            },
            SideWrite {
                table: SideTable::Meta,
                key: [META_BLOCK_HASH, &block.hash()[..]].concat(),
                value: borsh_bytes(&height),
            },
        ];
        for (index, tx) in block.transactions.iter().enumerate() {
            side.push(SideWrite {
                table: SideTable::TxIndex,
                key: tx.hash().to_vec(),
                value: borsh_bytes(&TxLocation {
                    height,
                    index: index as u32,
                }),
            });
        }
        for (tx_index, receipt) in receipts.iter().enumerate() {
            for (event_index, event) in receipt.all_events().iter().enumerate() {
                let at = EventLocation {
                    height,
                    tx_index: tx_index as u32,
                    event_index: event_index as u32,
                };
                let mut keys = vec![EventSelector::Contract(event.contract.clone())];
                for (position, topic) in event.topics.iter().enumerate() {
                    keys.push(EventSelector::Topic {
                        position: position as u8,
                        topic: *topic,
                    });
                }
                for selector in keys {
                    side.push(SideWrite {
                        table: SideTable::EventIndex,
                        key: [selector.prefix(), at.key().to_vec()].concat(),
                        value: Vec::new(),
                    });
                }
            }
        }
        side
    }

    /// Where events matching `selector` were emitted in blocks `from..=to`,
    /// in order, from the event index (`docs/chain.md` §6); at most
    /// `limit` of them.
    pub fn event_locations(
        &self,
        selector: &EventSelector,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<EventLocation>, Error> {
        let prefix = selector.prefix();
        let start = [prefix.clone(), from.to_be_bytes().to_vec()].concat();
        // Above every location at height `to` (16 bytes after the prefix)
        // and below the next prefix, even for `to = u64::MAX`.
        let end = [prefix.clone(), to.to_be_bytes().to_vec(), vec![0xff; 9]].concat();
        let found = self
            .db
            .side_range(SideTable::EventIndex, &start, Some(&end), limit)?;
        found
            .iter()
            .map(|(key, _)| {
                EventLocation::from_key(&key[prefix.len()..])
                    .ok_or_else(|| Error::Corrupt("an event index key of the wrong length".into()))
            })
            .collect()
    }

    /// Commits a built (or verified) block: state, tree version, block,
    /// receipts and indexes in one atomic write.
    pub fn commit(&mut self, built: BuiltBlock) -> Result<(), Error> {
        if self.scratch {
            return Err(Error::Corrupt("a scratch ledger cannot commit".into()));
        }
        let side = Self::side_records(&built.block, &built.receipts);
        let root: Root = self
            .db
            .commit(built.block.header.height, &built.changes, &side)?;
        if root != built.block.header.state_root {
            return Err(Error::Corrupt(
                "committed root differs from the built one".into(),
            ));
        }
        self.head = built.block.header;
        Ok(())
    }

    /// Verifies and commits a block made elsewhere; returns its receipts.
    pub fn apply_block(&mut self, block: &Block) -> Result<Vec<TxReceipt>, Error> {
        let built = self.verify_block(block)?;
        let receipts = built.receipts.clone();
        self.commit(built)?;
        Ok(receipts)
    }

    /// Undoes every block after `height` (a dev node's revert).
    pub fn rewind(&mut self, height: u64) -> Result<(), Error> {
        if height > self.head.height {
            return Err(Error::UnknownHeight(height));
        }
        self.staged.discard();
        self.db.rewind(height)?;
        self.head = Self::stored_block(&self.db, height)?
            .ok_or_else(|| Error::Corrupt(format!("block {height} is missing")))?
            .header;
        Ok(())
    }

    /// Keeps the chain's compiled contracts in `cache` as well, so a
    /// restarted node loads them instead of compiling them (`docs/vm.md`,
    /// "Compiled code on disk"). Changes no result, gas or receipt.
    pub fn set_code_cache(&mut self, cache: Arc<detvm_host::CodeCache>) {
        self.chain.set_code_cache(cache);
    }

    /// A ledger over the state after block `height` that traces host calls
    /// and cannot commit. It shares this ledger's compiled contracts, so a
    /// trace compiles nothing that already ran.
    fn scratch_at(&self, height: u64) -> Result<Ledger, Error> {
        let header = self
            .block(height)?
            .ok_or(Error::UnknownHeight(height))?
            .header;
        let staged = Arc::new(Staged::at(self.db.clone(), height));
        let mut chain = self.chain.sibling(staged.clone() as Arc<dyn Storage>);
        chain.set_tracing(true);
        Ok(Ledger {
            db: self.db.clone(),
            staged,
            chain,
            params: self.params.clone(),
            head: header,
            genesis_hash: self.genesis_hash,
            scratch: true,
            last_trace: Vec::new(),
            verified: std::sync::Mutex::new(std::collections::BTreeSet::new()),
        })
    }

    /// Re-executes the included transaction `hash` where it ran (the state
    /// before its block, its block's direct changes and the transactions
    /// before it) and returns its receipt, equal to the stored one, with
    /// every host call it made and the gas each charged.
    pub fn trace_transaction(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<(TxReceipt, Vec<detvm_host::HostCallTrace>)>, Error> {
        let Some(at) = self.tx_location(hash)? else {
            return Ok(None);
        };
        let block = self
            .block(at.height)?
            .ok_or_else(|| Error::Corrupt(format!("block {} is missing", at.height)))?;
        let mut scratch = self.scratch_at(at.height - 1)?;
        let txs = block.transactions[..=at.index as usize].to_vec();
        let mut built = scratch.build_block_with(
            block.dev_changes.clone(),
            txs,
            block.header.timestamp_ns,
            &block.header.proposer,
        )?;
        let receipt = built
            .receipts
            .pop()
            .ok_or_else(|| Error::Corrupt("the traced transaction did not run".into()))?;
        Ok(Some((receipt, built.traces.pop().unwrap_or_default())))
    }

    /// Executes `tx` as the next transaction on the head, with its host
    /// calls traced, and drops the result (a dry run).
    pub fn trace_candidate(
        &self,
        tx: SignedTransaction,
    ) -> Result<Result<(TxReceipt, Vec<detvm_host::HostCallTrace>), TxError>, Error> {
        let mut scratch = self.scratch_at(self.head.height)?;
        let ts = self.head.timestamp_ns.saturating_add(1);
        let mut built = scratch.build_block(vec![tx], ts, "trace")?;
        if let Some((_, e)) = built.rejected.pop() {
            return Ok(Err(e));
        }
        let receipt = built
            .receipts
            .pop()
            .ok_or_else(|| Error::Corrupt("the traced transaction did not run".into()))?;
        Ok(Ok((receipt, built.traces.pop().unwrap_or_default())))
    }

    /// Runs `method` of `contract` read-only as of the head or of
    /// `height`.
    pub fn view(
        &self,
        contract: &ContractId,
        method: &str,
        args: &[u8],
        height: Option<u64>,
    ) -> Result<detvm_host::Receipt, Error> {
        let height = height.unwrap_or(self.head.height);
        if height > self.head.height {
            return Err(Error::UnknownHeight(height));
        }
        let header = match self.block(height)? {
            Some(b) => b.header,
            None => return Err(Error::UnknownHeight(height)),
        };
        let storage: Arc<dyn Storage> = Arc::new(AtHeight::new(self.db.clone(), height));
        let ctx = CallContext {
            caller: "view".into(),
            gas: VIEW_GAS,
            block_height: header.height,
            block_timestamp: header.timestamp_ns,
            amount: 0,
        };
        Ok(self.chain.view_in(&storage, contract, method, args, &ctx)?)
    }
}

/// What a call left in its receipt besides its outcome and gas.
#[derive(Default)]
struct CallRecord {
    logs: Vec<String>,
    events: Vec<detvm_host::Event>,
    calls: Vec<detvm_host::CallNode>,
}

/// Gas a view may use.
pub const VIEW_GAS: u64 = 1_000_000_000_000;
