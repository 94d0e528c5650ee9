//! [`TestChain`] and the [`Call`] builder.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use detvm_host::{
    Account, CallContext, Chain, ContractId, DeployReceipt, MemoryStorage, Storage, StorageError,
    account_key, decode_account,
};

use crate::error::{Error, decode};
use crate::result::CallResult;
use crate::{DEFAULT_ACCOUNT, DEFAULT_GAS, contracts};

/// An in-memory chain for tests, over the real runtime and VM.
///
/// Calls run in the block set with [`TestChain::set_block`] (height 1,
/// timestamp 1,000,000,000 ns at first), which never advances by itself:
/// tests are deterministic, so two chains given the same calls produce the
/// same receipts.
pub struct TestChain {
    chain: Chain,
    /// The chain's store, for the accounts [`TestChain::set_balance`]
    /// writes directly (the runtime has no operation that mints); `None`
    /// for a chain given to [`TestChain::from_chain`].
    storage: Option<Arc<dyn Storage>>,
    block_height: u64,
    block_timestamp: u64,
}

impl std::fmt::Debug for TestChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestChain")
            .field("chain", &self.chain)
            .field("can_set_balances", &self.storage.is_some())
            .field("block_height", &self.block_height)
            .field("block_timestamp", &self.block_timestamp)
            .finish()
    }
}

impl Default for TestChain {
    fn default() -> Self {
        Self::new()
    }
}

impl TestChain {
    /// An empty in-memory chain.
    ///
    /// # Panics
    ///
    /// If the runtime cannot be set up (an engine failure on this machine);
    /// [`TestChain::try_new`] returns the error instead.
    pub fn new() -> Self {
        match Self::try_new() {
            Ok(chain) => chain,
            Err(e) => panic!("cannot create a test chain: {e}"),
        }
    }

    /// An empty in-memory chain, or why the runtime could not be set up.
    pub fn try_new() -> Result<Self, Error> {
        Self::with_storage(Arc::new(MemoryStorage::new()))
    }

    /// A test chain over `storage` (e.g. a [`detvm_host::RedbStorage`]),
    /// whose accounts [`TestChain::set_balance`] can fund.
    pub fn with_storage(storage: Arc<dyn Storage>) -> Result<Self, Error> {
        let mut chain = Self::from_chain(Chain::with_storage(storage.clone())?);
        chain.storage = Some(storage);
        Ok(chain)
    }

    /// A test chain over an existing runtime chain (e.g. one persisted with
    /// [`Chain::open`]). Its store is out of reach, so
    /// [`TestChain::set_balance`] fails on it: use
    /// [`TestChain::with_storage`] to fund accounts.
    pub fn from_chain(chain: Chain) -> Self {
        Self {
            chain,
            storage: None,
            block_height: 1,
            block_timestamp: 1_000_000_000,
        }
    }

    /// The runtime chain underneath.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The runtime chain underneath, mutably.
    pub fn chain_mut(&mut self) -> &mut Chain {
        &mut self.chain
    }

    /// Sets the block that later calls run in (what `block_height` and
    /// `block_timestamp` return), unless a call chooses its own.
    pub fn set_block(&mut self, height: u64, timestamp_ns: u64) {
        self.block_height = height;
        self.block_timestamp = timestamp_ns;
    }

    /// Sets the native balance of `account` (an account or a contract) to
    /// `amount`, creating its record if it has none: how a test gives an
    /// account tokens to attach to calls (a host-only chain has no genesis
    /// and no transfers). The record's nonce and key are kept. Also makes
    /// a named account exist, so contracts can `transfer` to it.
    pub fn set_balance(&mut self, account: &str, amount: u128) -> Result<(), Error> {
        detvm_host::check_account(account)?;
        let storage = self.storage.as_ref().ok_or_else(|| {
            Error::Chain(detvm_host::Error::Storage(StorageError::Backend {
                operation: "set_balance",
                source: "the test chain was made with from_chain, whose store it cannot reach"
                    .into(),
            }))
        })?;
        let key = account_key(account);
        let mut record = match storage.get(&key).map_err(detvm_host::Error::from)? {
            Some(bytes) => decode_account(account, &bytes)?,
            None => Account::default(),
        };
        record.balance = amount;
        let bytes = borsh::to_vec(&record).map_err(|e| Error::Encode {
            what: format!("the account record of {account}"),
            message: e.to_string(),
        })?;
        storage.set(&key, &bytes).map_err(detvm_host::Error::from)?;
        Ok(())
    }

    /// The committed native balance of `account` (0 without a record).
    pub fn balance(&self, account: &str) -> Result<u128, Error> {
        Ok(self.chain.balance(account)?)
    }

    /// Deploys `code` (binary Wasm) as [`DEFAULT_ACCOUNT`].
    pub fn deploy(&mut self, code: &[u8]) -> Result<ContractId, Error> {
        self.deploy_as(code, DEFAULT_ACCOUNT)
    }

    /// Deploys `code` as account `from`.
    pub fn deploy_as(&mut self, code: &[u8], from: &str) -> Result<ContractId, Error> {
        Ok(self.deploy_receipt(code, from)?.contract)
    }

    /// Deploys `code` as account `from` and returns the whole deploy receipt
    /// (id, code hash, gas).
    pub fn deploy_receipt(&mut self, code: &[u8], from: &str) -> Result<DeployReceipt, Error> {
        Ok(self.chain.deploy(code, from)?)
    }

    /// Deploys the `.wasm` file at `path` as [`DEFAULT_ACCOUNT`].
    pub fn deploy_file(&mut self, path: impl AsRef<Path>) -> Result<ContractId, Error> {
        let path = path.as_ref();
        let code = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        self.deploy(&code)
    }

    /// Deploys the repository's example contract `name` (see
    /// [`contracts::NAMES`]) as [`DEFAULT_ACCOUNT`].
    pub fn deploy_example(&mut self, name: &str) -> Result<ContractId, Error> {
        self.deploy(&contracts::wasm(name)?)
    }

    /// A call of `method` on `contract` with the borsh encoding of `args`
    /// (for a method with parameters `(a: A, b: B)`, pass `&(a, b)`; with
    /// one parameter, `&(a,)`; with none, `&()`). Committed if it returns.
    pub fn call<A: BorshSerialize + ?Sized>(
        &mut self,
        contract: &ContractId,
        method: &str,
        args: &A,
    ) -> Call<'_> {
        let options = self.options(contract, method, encode_args(args));
        Call {
            chain: Target::Call(self),
            options,
        }
    }

    /// A call with raw argument bytes.
    pub fn call_raw(
        &mut self,
        contract: &ContractId,
        method: &str,
        args: impl Into<Vec<u8>>,
    ) -> Call<'_> {
        let options = self.options(contract, method, Ok(args.into()));
        Call {
            chain: Target::Call(self),
            options,
        }
    }

    /// A read-only call: a write traps with `host`, and nothing is ever
    /// committed. Arguments as for [`TestChain::call`].
    pub fn view<A: BorshSerialize + ?Sized>(
        &self,
        contract: &ContractId,
        method: &str,
        args: &A,
    ) -> Call<'_> {
        let options = self.options(contract, method, encode_args(args));
        Call {
            chain: Target::View(self),
            options,
        }
    }

    /// A read-only call with raw argument bytes.
    pub fn view_raw(
        &self,
        contract: &ContractId,
        method: &str,
        args: impl Into<Vec<u8>>,
    ) -> Call<'_> {
        let options = self.options(contract, method, Ok(args.into()));
        Call {
            chain: Target::View(self),
            options,
        }
    }

    /// The committed state of `contract`: every key and value.
    pub fn state(&self, contract: &ContractId) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, Error> {
        Ok(self.chain.state(contract, b"")?.into_iter().collect())
    }

    /// The committed raw value of `key` in `contract`'s state.
    pub fn state_raw(&self, contract: &ContractId, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let entries = self.chain.state(contract, key)?;
        Ok(entries
            .into_iter()
            .find(|(k, _)| k.as_slice() == key)
            .map(|(_, v)| v))
    }

    /// The committed value of `key` in `contract`'s state, decoded from
    /// borsh.
    pub fn state_value<T: BorshDeserialize>(
        &self,
        contract: &ContractId,
        key: &[u8],
    ) -> Result<Option<T>, Error> {
        self.state_raw(contract, key)?
            .map(|bytes| decode(&bytes, &format!("state key {}", show_key(key))))
            .transpose()
    }

    fn options(
        &self,
        contract: &ContractId,
        method: &str,
        args: Result<Vec<u8>, Error>,
    ) -> Options {
        Options {
            contract: contract.clone(),
            method: method.to_owned(),
            args,
            context: CallContext {
                caller: DEFAULT_ACCOUNT.to_owned(),
                gas: DEFAULT_GAS,
                block_height: self.block_height,
                block_timestamp: self.block_timestamp,
                amount: 0,
            },
        }
    }
}

/// The borsh encoding of call arguments; an error surfaces from `run`.
fn encode_args<A: BorshSerialize + ?Sized>(args: &A) -> Result<Vec<u8>, Error> {
    borsh::to_vec(args).map_err(|e| Error::Encode {
        what: "call arguments".to_owned(),
        message: e.to_string(),
    })
}

/// A key for messages: text if it is printable ASCII, hex otherwise.
pub(crate) fn show_key(key: &[u8]) -> String {
    if key.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{:?}", String::from_utf8_lossy(key))
    } else {
        format!("0x{}", detvm_host::hex(key))
    }
}

/// A call or view being set up; [`Call::run`] executes it.
#[derive(Debug)]
#[must_use = "a call does nothing until `run`"]
pub struct Call<'a> {
    chain: Target<'a>,
    options: Options,
}

#[derive(Debug)]
enum Target<'a> {
    Call(&'a mut TestChain),
    View(&'a TestChain),
}

#[derive(Debug)]
struct Options {
    contract: ContractId,
    method: String,
    args: Result<Vec<u8>, Error>,
    context: CallContext,
}

impl Call<'_> {
    /// Calls as account `account` (default [`DEFAULT_ACCOUNT`]).
    pub fn from(mut self, account: &str) -> Self {
        account.clone_into(&mut self.options.context.caller);
        self
    }

    /// Attaches `amount` native tokens, moved from the caller's balance
    /// to the contract before the method runs (and kept only if it
    /// returns). The runtime refuses the call (`insufficient_balance`) if
    /// the caller has less: fund it with [`TestChain::set_balance`].
    pub fn amount(mut self, amount: u128) -> Self {
        self.options.context.amount = amount;
        self
    }

    /// Gives the call `gas` (default [`DEFAULT_GAS`]).
    pub fn gas(mut self, gas: u64) -> Self {
        self.options.context.gas = gas;
        self
    }

    /// Runs the call in block `height` instead of the chain's current one.
    pub fn block_height(mut self, height: u64) -> Self {
        self.options.context.block_height = height;
        self
    }

    /// Runs the call at `timestamp_ns` instead of the chain's current time.
    pub fn block_timestamp(mut self, timestamp_ns: u64) -> Self {
        self.options.context.block_timestamp = timestamp_ns;
        self
    }

    /// Executes the call: through the real VM, committing its state changes
    /// if it returns (never for a view).
    pub fn run(self) -> CallResult {
        let Options {
            contract,
            method,
            args,
            context,
        } = self.options;
        let label = format!("{method} on {contract} as {}", context.caller);
        let outcome = args.and_then(|args| {
            match self.chain {
                Target::Call(chain) => chain.chain.call(&contract, &method, &args, &context),
                Target::View(chain) => chain.chain.view(&contract, &method, &args, &context),
            }
            .map_err(Error::from)
        });
        CallResult::new(label, outcome)
    }
}
