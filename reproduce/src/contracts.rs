//! The example contracts, deployed and called through the chain's runtime
//! (`detvm_host::Chain` over memory): the counter, the token with
//! allowances, the escrow and the multisig calling the token, the attacks
//! (reentrancy, depth bomb, gas griefing, a huge return), the hasher and
//! the hostile contract's traps. One case per deploy or call: the receipt
//! hash (outcome, gas, logs, state changes, events, call tree) and the
//! native balances after it.
//!
//! The contracts are frozen builds (`corpus/*.wasm`, built from
//! `contracts/` for corpus version 1): a contract's bytes depend on the
//! Rust toolchain that built it, and the corpus must be the same bytes on
//! every machine.

use std::sync::Arc;

use borsh::BorshSerialize;
use detvm_host::{
    Account, CallContext, Chain, ContractId, MemoryStorage, Receipt, Storage, account_key, hex,
};

use crate::{Case, EngineError, Error};

const COUNTER: &[u8] = include_bytes!("../corpus/counter.wasm");
const TOKEN: &[u8] = include_bytes!("../corpus/token.wasm");
const ESCROW: &[u8] = include_bytes!("../corpus/escrow.wasm");
const MULTISIG: &[u8] = include_bytes!("../corpus/multisig.wasm");
const ATTACKS: &[u8] = include_bytes!("../corpus/attacks.wasm");
const HASHER: &[u8] = include_bytes!("../corpus/hasher.wasm");
const HOSTILE: &[u8] = include_bytes!("../corpus/hostile.wasm");

/// Gas of every call: enough for each step, so only the hostile ones run
/// out.
const GAS: u64 = 300_000_000;

/// Accounts funded with native tokens at the start.
const FUNDED: [&str; 3] = ["alice", "bob", "carol"];

struct Scenario {
    chain: Chain,
    cases: Vec<Case>,
    height: u64,
    watched: Vec<String>,
}

fn args<T: BorshSerialize>(value: &T) -> Vec<u8> {
    // Writing borsh into a Vec cannot fail.
    borsh::to_vec(value).unwrap_or_default()
}

fn engine(e: detvm_host::Error) -> Error {
    Error::Engine(EngineError::Chain(e))
}

impl Scenario {
    fn new() -> Result<Self, Error> {
        let storage = Arc::new(MemoryStorage::new());
        let funded: Vec<_> = FUNDED
            .iter()
            .map(|id| {
                let account = Account {
                    balance: 1_000_000,
                    ..Account::default()
                };
                (
                    account_key(id),
                    Some(borsh::to_vec(&account).unwrap_or_default()),
                )
            })
            .collect();
        storage
            .apply(&funded)
            .map_err(|e| Error::Engine(EngineError::Storage(e)))?;
        let chain = Chain::with_storage(storage).map_err(engine)?;
        Ok(Self {
            chain,
            cases: Vec::new(),
            height: 1,
            watched: FUNDED.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    fn balances(&self) -> Result<String, Error> {
        let mut out = Vec::new();
        for id in &self.watched {
            out.push(format!("{id}={}", self.chain.balance(id).map_err(engine)?));
        }
        Ok(out.join(" "))
    }

    fn deploy(&mut self, name: &str, code: &[u8], from: &str) -> Result<ContractId, Error> {
        let receipt = self.chain.deploy(code, from).map_err(engine)?;
        let id = receipt.contract.clone();
        self.watched.push(id.to_string());
        let transcript = format!(
            "contract {} code {} gas {}\n",
            id,
            hex(&receipt.code_hash),
            receipt.gas_used
        );
        self.cases
            .push(Case::new(format!("deploy {name}"), transcript));
        Ok(id)
    }

    fn call(
        &mut self,
        label: &str,
        contract: &ContractId,
        method: &str,
        input: Vec<u8>,
        from: &str,
        amount: u128,
    ) -> Result<Receipt, Error> {
        let ctx = CallContext {
            caller: from.to_owned(),
            gas: GAS,
            block_height: self.height,
            block_timestamp: self.height * 1_000_000_000,
            amount,
        };
        self.height += 1;
        let receipt = self
            .chain
            .call(contract, method, &input, &ctx)
            .map_err(engine)?;
        let transcript = format!(
            "{} gas {} receipt {} calls {} events {} balances {}\n",
            if receipt.is_success() {
                "returned"
            } else {
                "trapped"
            },
            receipt.gas_used,
            hex(&receipt.hash()),
            receipt.all_calls().len(),
            receipt.all_events().len(),
            self.balances()?
        );
        self.cases.push(Case::new(label, transcript));
        Ok(receipt)
    }
}

/// Every step of the scenario as a case, in order.
pub fn cases() -> Result<Vec<Case>, Error> {
    let mut s = Scenario::new()?;
    let s_ = |text: &str| text.to_owned();

    let counter = s.deploy("counter", COUNTER, "alice")?;
    s.call(
        "counter.increment",
        &counter,
        "increment",
        vec![],
        "alice",
        0,
    )?;
    s.call(
        "counter.increment_by",
        &counter,
        "increment_by",
        args(&(41u64,)),
        "bob",
        0,
    )?;
    s.call(
        "counter.increment_and_fail",
        &counter,
        "increment_and_fail",
        vec![],
        "bob",
        0,
    )?;
    s.call("counter.context", &counter, "context", vec![], "carol", 0)?;

    let token = s.deploy("token", TOKEN, "alice")?;
    let escrow = s.deploy("escrow", ESCROW, "alice")?;
    let multisig = s.deploy("multisig", MULTISIG, "alice")?;
    let (t, e, m) = (token.to_string(), escrow.to_string(), multisig.to_string());
    s.call(
        "token.init",
        &token,
        "init",
        args(&(s_("TOK"),)),
        "alice",
        0,
    )?;
    s.call(
        "token.mint",
        &token,
        "mint",
        args(&(s_("alice"), 1_000u128)),
        "alice",
        0,
    )?;
    s.call(
        "token.transfer",
        &token,
        "transfer",
        args(&(s_("bob"), 250u128)),
        "alice",
        0,
    )?;
    s.call(
        "token.transfer over balance",
        &token,
        "transfer",
        args(&(s_("carol"), 10_000u128)),
        "bob",
        0,
    )?;
    let create = args(&(t.clone(), s_("carol"), s_("bob"), 100u128));
    s.call(
        "escrow.create without allowance",
        &escrow,
        "create",
        create.clone(),
        "alice",
        0,
    )?;
    s.call(
        "token.approve",
        &token,
        "approve",
        args(&(e.clone(), 100u128)),
        "alice",
        0,
    )?;
    s.call("escrow.create", &escrow, "create", create, "alice", 0)?;
    s.call(
        "escrow.release by a stranger",
        &escrow,
        "release",
        args(&(0u64,)),
        "carol",
        0,
    )?;
    s.call(
        "escrow.release",
        &escrow,
        "release",
        args(&(0u64,)),
        "bob",
        0,
    )?;
    s.call(
        "escrow.create_native",
        &escrow,
        "create_native",
        args(&(s_("carol"), s_("bob"))),
        "alice",
        5_000,
    )?;
    s.call(
        "escrow.refund native",
        &escrow,
        "refund",
        args(&(1u64,)),
        "bob",
        0,
    )?;

    let owners = vec![s_("alice"), s_("bob"), s_("carol")];
    s.call(
        "multisig.init",
        &multisig,
        "init",
        args(&(owners, 2u32)),
        "alice",
        0,
    )?;
    s.call(
        "token.transfer to multisig",
        &token,
        "transfer",
        args(&(m.clone(), 300u128)),
        "alice",
        0,
    )?;
    let pay = args(&(s_("carol"), 120u128));
    s.call(
        "multisig.propose",
        &multisig,
        "propose",
        args(&(t.clone(), s_("transfer"), pay, 0u128)),
        "alice",
        0,
    )?;
    s.call(
        "multisig.approve 1 of 2",
        &multisig,
        "approve",
        args(&(0u64,)),
        "alice",
        0,
    )?;
    s.call(
        "multisig.approve 2 of 2",
        &multisig,
        "approve",
        args(&(0u64,)),
        "bob",
        0,
    )?;
    let too_much = args(&(s_("carol"), 1_000_000u128));
    s.call(
        "multisig.propose too much",
        &multisig,
        "propose",
        args(&(t.clone(), s_("transfer"), too_much, 0u128)),
        "bob",
        0,
    )?;
    s.call(
        "multisig.approve failing 1",
        &multisig,
        "approve",
        args(&(1u64,)),
        "bob",
        0,
    )?;
    s.call(
        "multisig.approve failing 2",
        &multisig,
        "approve",
        args(&(1u64,)),
        "carol",
        0,
    )?;

    let vault = s.deploy("attacks as vault", ATTACKS, "alice")?;
    let attacker = s.deploy("attacks as attacker", ATTACKS, "bob")?;
    let v = vault.to_string();
    s.call("vault.deposit", &vault, "deposit", vec![], "alice", 50_000)?;
    s.call(
        "attacker.attack",
        &attacker,
        "attack",
        args(&(v.clone(), 1_000u128)),
        "bob",
        1_000,
    )?;
    s.call(
        "attacker.bomb",
        &attacker,
        "bomb",
        args(&(v.clone(), 20u32)),
        "bob",
        0,
    )?;
    s.call(
        "attacker.grief",
        &attacker,
        "grief",
        args(&(v.clone(), 1_000_000u64)),
        "bob",
        0,
    )?;
    s.call(
        "attacker.fetch_huge",
        &attacker,
        "fetch_huge",
        args(&(v.clone(), 1_048_576u32)),
        "bob",
        0,
    )?;
    s.call(
        "attacker.fetch_huge too big",
        &attacker,
        "fetch_huge",
        args(&(v, 1_048_577u32)),
        "bob",
        0,
    )?;

    let hasher = s.deploy("hasher", HASHER, "carol")?;
    let data: Vec<u8> = (0..4_096u32).map(|i| (i * 7 + 3) as u8).collect();
    s.call(
        "hasher.sha256_wasm",
        &hasher,
        "sha256_wasm",
        args(&(data.clone(),)),
        "carol",
        0,
    )?;
    s.call(
        "hasher.sha256_host",
        &hasher,
        "sha256_host",
        args(&(data,)),
        "carol",
        0,
    )?;

    let hostile = s.deploy("hostile", HOSTILE, "carol")?;
    for method in [
        "infinite_loop",
        "recurse",
        "grow_memory",
        "allocate_forever",
        "storage_spam",
        "oob_log",
        "oob_wrapping_pointer",
        "oob_read_register",
        "huge_log",
        "many_logs",
        "long_key",
        "invalid_utf8_log",
        "unset_register",
    ] {
        s.call(
            &format!("hostile.{method}"),
            &hostile,
            method,
            vec![],
            "carol",
            0,
        )?;
    }
    Ok(s.cases)
}
