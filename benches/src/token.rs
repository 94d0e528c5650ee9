//! The token workload: the example token contract (`contracts/token`) on a
//! chain over in-memory storage, doing transfers the way a node executes
//! them: one call per transfer, each instantiating the contract, running
//! `transfer`, and committing its state changes atomically.

use borsh::BorshSerialize;
use detvm_host::{CallContext, Chain, ContractId, Error, ReceiptOutcome};

/// Transfers per benchmark iteration.
pub const TRANSFERS: usize = 10_000;

/// Accounts the transfers circulate between: each sends one unit to the
/// next, so balances (and the state's size) stay the same however many
/// iterations run.
pub const ACCOUNTS: usize = 100;

/// Gas of each call: far above what a transfer needs.
const GAS: u64 = 100_000_000;

/// The host functions (module `env`) the peers' token stub defines
/// (`peer_token`, feature `peers`). The peers are not built by the
/// ordinary tests, so a test here checks that the token imports nothing
/// else, and one of the stub's checks that it defines all of these.
pub const PEER_HOST_FUNCTIONS: &[&str] = &[
    "caller",
    "emit_event",
    "input",
    "keccak256",
    "log_utf8",
    "panic_utf8",
    "read_register",
    "register_len",
    "storage_has_key",
    "storage_read",
    "storage_remove",
    "storage_write",
    "value_return",
];

/// Why the token workload failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The chain refused a deploy or call, or failed.
    #[error(transparent)]
    Chain(#[from] Error),
    /// A call the workload relies on did not return: the contract is not
    /// the token it expects, or ran out of gas.
    #[error("{method} did not succeed: {outcome:?}")]
    Unexpected {
        /// The method called.
        method: String,
        /// What the call ended with.
        outcome: ReceiptOutcome,
    },
}

/// A chain with the token deployed, initialised and minted to
/// [`ACCOUNTS`] accounts.
pub struct TokenChain {
    chain: Chain,
    token: ContractId,
    accounts: Vec<String>,
    next: usize,
}

impl TokenChain {
    /// Deploys `code` (the token contract) on a fresh in-memory chain,
    /// initialises it and gives every account a large balance.
    pub fn new(code: &[u8]) -> Result<Self, TokenError> {
        let mut chain = Chain::in_memory()?;
        let owner = "owner".to_string();
        let token = chain.deploy(code, &owner)?.contract;
        let accounts: Vec<String> = (0..ACCOUNTS).map(|i| format!("account{i:03}")).collect();
        let mut this = Self {
            chain,
            token,
            accounts,
            next: 0,
        };
        this.call(&owner, "init", &("TOK".to_string(),))?;
        for account in this.accounts.clone() {
            this.call(&owner, "mint", &(account, 1_000_000_000u128))?;
        }
        Ok(this)
    }

    /// Runs `n` transfers of one unit, each from the next account in the
    /// ring to the one after it; returns the gas they used. Any transfer
    /// that does not succeed is an error.
    pub fn transfers(&mut self, n: usize) -> Result<u64, TokenError> {
        let mut gas = 0;
        for _ in 0..n {
            let from = self.accounts[self.next].clone();
            let to = self.accounts[(self.next + 1) % ACCOUNTS].clone();
            self.next = (self.next + 1) % ACCOUNTS;
            gas += self.call(&from, "transfer", &(to, 1u128))?;
        }
        Ok(gas)
    }

    /// The committed balance of `account`, read through the contract.
    pub fn balance(&self, account: &str) -> Result<u128, TokenError> {
        let args = borsh::to_vec(&(account.to_string(),)).expect("encodes");
        let receipt = self
            .chain
            .view(&self.token, "balance_of", &args, &context(account))?;
        match receipt.outcome {
            ReceiptOutcome::Returned(bytes) => Ok(borsh::from_slice(&bytes).unwrap_or(0)),
            other => Err(TokenError::Unexpected {
                method: "balance_of".into(),
                outcome: other,
            }),
        }
    }

    /// The accounts, in ring order.
    pub fn accounts(&self) -> &[String] {
        &self.accounts
    }

    fn call(
        &mut self,
        from: &str,
        method: &str,
        args: &impl BorshSerialize,
    ) -> Result<u64, TokenError> {
        let args = borsh::to_vec(args).expect("encodes");
        let receipt = self
            .chain
            .call(&self.token, method, &args, &context(from))?;
        match receipt.outcome {
            ReceiptOutcome::Returned(_) => Ok(receipt.gas_used),
            other => Err(TokenError::Unexpected {
                method: method.into(),
                outcome: other,
            }),
        }
    }
}

fn context(caller: &str) -> CallContext {
    CallContext {
        caller: caller.to_string(),
        gas: GAS,
        block_height: 1,
        block_timestamp: 0,
        amount: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The peers' stub can link the token: every function it imports is
    /// one the stub defines.
    #[test]
    fn the_peer_stub_defines_every_token_import() {
        let code = detvm_testkit::contracts::wasm("token").expect("the token is built");
        let mut imports = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&code) {
            if let wasmparser::Payload::ImportSection(reader) = payload.expect("parses") {
                for import in reader.into_imports() {
                    let import = import.expect("an import");
                    imports.push(format!("{}::{}", import.module, import.name));
                }
            }
        }
        assert!(imports.len() > 5, "{imports:?}");
        for import in &imports {
            let defined = import
                .strip_prefix("env::")
                .is_some_and(|name| PEER_HOST_FUNCTIONS.contains(&name));
            assert!(defined, "the peers' token stub lacks {import}");
        }
    }

    /// Transfers move exactly one unit along the ring and keep the total,
    /// so the benchmark measures working transfers.
    #[test]
    fn transfers_move_balances_along_the_ring() {
        let code = detvm_testkit::contracts::wasm("token").expect("the token is built");
        let mut token = TokenChain::new(&code).expect("sets up");
        let before: Vec<u128> = token
            .accounts()
            .to_vec()
            .iter()
            .map(|a| token.balance(a).expect("balance"))
            .collect();
        let gas = token.transfers(ACCOUNTS + 3).expect("transfers succeed");
        assert!(gas > 0);
        let after: Vec<u128> = token
            .accounts()
            .to_vec()
            .iter()
            .map(|a| token.balance(a).expect("balance"))
            .collect();
        assert_eq!(before.iter().sum::<u128>(), after.iter().sum::<u128>());
        // A full round leaves every balance as it was; the three extra
        // transfers moved one unit from account 0, 1, 2 to 1, 2, 3.
        let mut expected = before.clone();
        expected[0] -= 1;
        expected[3] += 1;
        assert_eq!(after, expected);
    }
}
