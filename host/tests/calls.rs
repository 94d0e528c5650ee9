//! Host API version 2 under hostile use: cross-contract calls, reentrancy,
//! the depth limit, native value, events and the crypto functions, each
//! checked against the rules of `docs/host-api.md` ("Cross-contract
//! calls", "Reentrancy", "Native value", "Events", "Receipts") and
//! `docs/gas.md` §9. Expected gas is computed from the published tables,
//! never copied from a run.

mod common;

use std::sync::Arc;

use common::{GAS, IMPORTS, call_cost, consts, ctx, drop_cost, fees};
use detvm_host::{
    Account, CallContext, CallOutcome, Chain, ContractId, Error, Event, MemoryStorage, Receipt,
    ReceiptOutcome, Storage, TrapKind, account_key, decode_account,
};

/// The version 2 host functions, imported under their own names.
const V2_IMPORTS: &str = r#"
  (import "env" "keccak256" (func $keccak256 (param i32 i32 i64)))
  (import "env" "ed25519_verify" (func $ed25519_verify (param i32 i32 i32 i32) (result i32)))
  (import "env" "call_contract" (func $call_contract (param i32 i32 i32 i32 i32 i32 i32 i64 i64) (result i32)))
  (import "env" "attached_amount" (func $attached_amount (param i32)))
  (import "env" "balance" (func $balance (param i32 i32 i32) (result i32)))
  (import "env" "transfer" (func $transfer (param i32 i32 i32)))
  (import "env" "emit_event" (func $emit_event (param i32 i32 i32 i32)))
"#;

/// A contract with every host function imported, `pages` pages of memory
/// and `items`.
fn module(pages: u32, items: &str) -> Vec<u8> {
    let text =
        format!("(module {IMPORTS} {V2_IMPORTS} (memory (export \"memory\") {pages}) {items})");
    wat::parse_str(&text).unwrap_or_else(|e| panic!("test contract does not parse: {e}\n{text}"))
}

fn method(name: &str, body: &str) -> String {
    format!("(func (export \"{name}\") {body})")
}

/// Bytes as a WAT string literal body.
fn esc(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

fn data(offset: u32, bytes: &[u8]) -> String {
    format!("(data (i32.const {offset}) \"{}\")", esc(bytes))
}

// ---- the hub: one contract template that plays every role -----------------
//
// Memory layout (one page):
//   0..40    `id0`, the contract it calls by default
//   40..80   `id1`, a second target (or its own id, copied at run time)
//   128..    method names, 32 bytes apart (`NAMES`)
//   992..    "ok" (a return value), "kb" and "a1" (keys and values)
//   800..816 an amount (`u128` LE), 10 unless the test says otherwise
//   816..832 zero amount
//   880..944 an implicit account id (64 hex digits)
//   960..976 amount 5
//   1024..   a call's report: status (`u32` LE) then the register
//   1100..   four event topics; 1300.. event data
//   2048..   scratch for input

const NAMES: &[&str] = &[
    "set",
    "set_then_trap",
    "set_then_panic",
    "burn",
    "echo_caller",
    "take",
    "attached",
    "ret",
    "missing",
    "relay_then_trap",
    "ev_two",
    "ev_one",
    "ev_two_then_trap",
    "ev_100",
    "selfbal",
    "call_caller",
    "go_nowrite",
    "max",
    "over",
];

fn name(n: &str) -> (u32, u32) {
    let i = NAMES
        .iter()
        .position(|x| *x == n)
        .unwrap_or_else(|| panic!("no name {n}"));
    (128 + 32 * i as u32, n.len() as u32)
}

const AMOUNT: u32 = 800;
const ZERO: u32 = 816;
const IMPLICIT: u32 = 880;
const FIVE: u32 = 960;

/// `(call $call_contract ...)`: the target id at `target` (40 bytes),
/// method `m` from `NAMES`, no arguments.
fn cc(target: u32, m: &str, amount_ptr: u32, gas: i64) -> String {
    let (mp, ml) = name(m);
    cc_raw((target, 40), (mp, ml), (0, 0), amount_ptr, gas, 1)
}

fn cc_raw(
    contract: (u32, u32),
    method: (u32, u32),
    args: (u32, u32),
    amount_ptr: u32,
    gas: i64,
    reg: u64,
) -> String {
    format!(
        "(call $call_contract (i32.const {}) (i32.const {}) (i32.const {}) (i32.const {}) \
         (i32.const {}) (i32.const {}) (i32.const {amount_ptr}) (i64.const {gas}) (i64.const {reg}))",
        contract.0, contract.1, method.0, method.1, args.0, args.1
    )
}

/// Makes the call, then returns its status (`u32` LE) and register 1.
fn report(call: &str) -> String {
    format!(
        "(i32.store (i32.const 1024) {call}) \
         (call $read_register (i64.const 1) (i32.const 1028)) \
         (call $value_return (i32.const 1024) \
           (i32.add (i32.const 4) (i32.wrap_i64 (call $register_len (i64.const 1)))))"
    )
}

/// Writes key `k` = `b` (the bytes at 996 and 997).
const WRITE_K: &str = "(drop (call $storage_write (i32.const 996) (i32.const 1) (i32.const 997) (i32.const 1) (i64.const 9)))";
/// Writes key `a` = `1` (the bytes at 1008 and 1009).
const WRITE_A: &str = "(drop (call $storage_write (i32.const 1008) (i32.const 1) (i32.const 1009) (i32.const 1) (i64.const 9)))";

/// Emits an event with `topics` topics and 2 data bytes at `1300 + 2 × slot`.
fn emit(topics: u32, slot: u32) -> String {
    format!(
        "(call $emit_event (i32.const 1100) (i32.const {topics}) (i32.const {}) (i32.const 2))",
        1300 + 2 * slot
    )
}

/// The event `emit(topics, slot)` records for `contract`.
fn event(contract: &ContractId, topics: usize, slot: usize) -> Event {
    Event {
        contract: contract.to_string(),
        topics: (0..topics).map(|t| [t as u8 + 1; 32]).collect(),
        data: EVENT_DATA[2 * slot..2 * slot + 2].to_vec(),
    }
}

const EVENT_DATA: &[u8] = b"e0e1b0b1c0c1d0d1";

fn implicit_id() -> String {
    "ab".repeat(32)
}

/// The hub's code calling `id0` and `id1` (zeros when absent).
fn hub(id0: Option<&ContractId>, id1: Option<&ContractId>) -> Vec<u8> {
    module(1, &hub_items(id0, id1))
}

/// The hub's data and methods, to extend with more methods.
fn hub_items(id0: Option<&ContractId>, id1: Option<&ContractId>) -> String {
    let id = |c: Option<&ContractId>| c.map_or(vec![b'0'; 40], |c| c.as_str().as_bytes().to_vec());
    let mut items = data(0, &id(id0)) + &data(40, &id(id1));
    for n in NAMES {
        items += &data(name(n).0, n.as_bytes());
    }
    // Scratch bytes for WRITE_K / WRITE_A and the "ok" return value.
    items += &data(996, b"kb");
    items += &data(1008, b"a1");
    items += &data(992, b"ok");
    items += &data(AMOUNT, &10u128.to_le_bytes());
    items += &data(IMPLICIT, implicit_id().as_bytes());
    items += &data(FIVE, &5u128.to_le_bytes());
    let topics: Vec<u8> = (1..=5u8).flat_map(|t| [t; 32]).collect();
    items += &data(1100, &topics);
    items += &data(1300, EVENT_DATA);
    let ret_ok = "(call $value_return (i32.const 992) (i32.const 2))";
    let methods = [
        // Leaf behaviours.
        method("set", &format!("{WRITE_K} {ret_ok}")),
        method("set_then_trap", &format!("{WRITE_K} unreachable")),
        method(
            "set_then_panic",
            &format!("{WRITE_K} (call $panic_utf8 (i32.const 996) (i32.const 2))"),
        ),
        method("burn", "(loop (br 0))"),
        method(
            "echo_caller",
            "(call $caller (i64.const 0)) (call $read_register (i64.const 0) (i32.const 2048)) \
             (call $value_return (i32.const 2048) (i32.wrap_i64 (call $register_len (i64.const 0))))",
        ),
        "(func (export \"take\") (param i32))".to_string(),
        method(
            "attached",
            "(call $attached_amount (i32.const 2048)) (call $value_return (i32.const 2048) (i32.const 16))",
        ),
        method(
            "attached_then_trap",
            "(call $attached_amount (i32.const 2048)) unreachable",
        ),
        method("ret", ret_ok),
        method(
            "selfbal",
            "(call $current_contract (i64.const 5)) (call $read_register (i64.const 5) (i32.const 2200)) \
             (drop (call $balance (i32.const 2200) (i32.const 40) (i32.const 2048))) \
             (call $value_return (i32.const 2048) (i32.const 16))",
        ),
        // Callers.
        method(
            "go",
            &format!("{WRITE_A} {}", report(&cc(0, "set", ZERO, -1))),
        ),
        method("go_nowrite", &report(&cc(0, "set", ZERO, -1))),
        method(
            "go_trap",
            &format!("{WRITE_A} {}", report(&cc(0, "set_then_trap", ZERO, -1))),
        ),
        method(
            "go_panic",
            &format!("{WRITE_A} {}", report(&cc(0, "set_then_panic", ZERO, -1))),
        ),
        method(
            "go_trap_after",
            &format!("{WRITE_A} (drop {}) unreachable", cc(0, "set", ZERO, -1)),
        ),
        method(
            "go_relay",
            &format!(
                "{WRITE_A} {}",
                report(&cc(0, "relay_then_trap", AMOUNT, -1))
            ),
        ),
        method(
            "relay_then_trap",
            &format!(
                "{WRITE_K} (call $transfer (i32.const {IMPLICIT}) (i32.const 64) (i32.const {FIVE})) \
                 (drop {}) {} unreachable",
                cc(0, "set", ZERO, -1),
                emit(1, 2)
            ),
        ),
        method("pay", &report(&cc(0, "attached", AMOUNT, -1))),
        method("pay_selfbal", &report(&cc(0, "selfbal", AMOUNT, -1))),
        method("who", &report(&cc(0, "echo_caller", ZERO, -1))),
        method("grief", &format!("(drop {})", cc(0, "burn", ZERO, -1))),
        method(
            "grief_bounded",
            &format!("(drop {})", cc(0, "burn", ZERO, 50_000)),
        ),
        method("cheap", &format!("(drop {})", cc(0, "ret", ZERO, -1))),
        method(
            "call_caller",
            &format!(
                "(call $caller (i64.const 5)) (call $read_register (i64.const 5) (i32.const 40)) {}",
                report(&cc(40, "ret", ZERO, -1))
            ),
        ),
        method("loop_back", &report(&cc(0, "call_caller", ZERO, -1))),
        method(
            "self_call",
            &format!(
                "(call $current_contract (i64.const 5)) (call $read_register (i64.const 5) (i32.const 40)) {}",
                report(&cc(40, "ret", ZERO, -1))
            ),
        ),
        // Events.
        method(
            "ev_go",
            &format!(
                "{} (drop {}) {} (drop {})",
                emit(1, 0),
                cc(0, "ev_two", ZERO, -1),
                emit(2, 1),
                cc(40, "ev_one", ZERO, -1)
            ),
        ),
        method("ev_two", &format!("{} {}", emit(0, 2), emit(4, 3))),
        method("ev_one", &emit(3, 4)),
        method(
            "ev_two_then_trap",
            &format!(
                "{} {} (drop {}) unreachable",
                emit(0, 2),
                emit(4, 3),
                cc(0, "ev_one", ZERO, -1)
            ),
        ),
        method(
            "ev_trap_callee",
            &format!(
                "{} {}",
                emit(1, 0),
                report(&cc(0, "ev_two_then_trap", ZERO, -1))
            ),
        ),
        method(
            "ev_trap_after",
            &format!(
                "{} (drop {}) unreachable",
                emit(1, 0),
                cc(0, "ev_two", ZERO, -1)
            ),
        ),
        method(
            "ev_100",
            &format!(
                "(local $i i32) (loop {} (local.set $i (i32.add (local.get $i) (i32.const 1))) \
                 (br_if 0 (i32.lt_u (local.get $i) (i32.const 100))))",
                emit(1, 0)
            ),
        ),
        method(
            "ev_101",
            &format!(
                "(local $i i32) (loop {} (local.set $i (i32.add (local.get $i) (i32.const 1))) \
                 (br_if 0 (i32.lt_u (local.get $i) (i32.const 101))))",
                emit(1, 0)
            ),
        ),
        method(
            "ev_100_then_call",
            &format!(
                "(local $i i32) (loop {} (local.set $i (i32.add (local.get $i) (i32.const 1))) \
                 (br_if 0 (i32.lt_u (local.get $i) (i32.const 100)))) {}",
                emit(1, 0),
                report(&cc(0, "ev_100", ZERO, -1))
            ),
        ),
        method(
            "ev_5_topics",
            "(call $emit_event (i32.const 1100) (i32.const 5) (i32.const 1300) (i32.const 2))",
        ),
        method(
            "ev_bytes",
            "(call $emit_event (i32.const 0) (i32.const 0) (i32.const 4096) (i32.const 16384)) \
             (call $emit_event (i32.const 0) (i32.const 0) (i32.const 4096) (i32.const 1))",
        ),
        method(
            "ev_bytes_exact",
            "(call $emit_event (i32.const 0) (i32.const 0) (i32.const 4096) (i32.const 16000)) \
             (call $emit_event (i32.const 0) (i32.const 0) (i32.const 4096) (i32.const 384))",
        ),
        // Native value: input is the amount (16 bytes) then the account id.
        method(
            "xfer",
            "(local $len i32) (call $input (i64.const 0)) \
             (call $read_register (i64.const 0) (i32.const 2048)) \
             (local.set $len (i32.sub (i32.wrap_i64 (call $register_len (i64.const 0))) (i32.const 16))) \
             (call $transfer (i32.const 2064) (local.get $len) (i32.const 2048)) \
             (i32.store (i32.const 1040) \
               (call $balance (i32.const 2064) (local.get $len) (i32.const 1024))) \
             (call $value_return (i32.const 1024) (i32.const 17))",
        ),
        // Input is an account id: its balance and whether it has a record.
        method(
            "bal",
            "(call $input (i64.const 0)) (call $read_register (i64.const 0) (i32.const 2048)) \
             (i32.store (i32.const 1040) (call $balance (i32.const 2048) \
               (i32.wrap_i64 (call $register_len (i64.const 0))) (i32.const 1024))) \
             (call $value_return (i32.const 1024) (i32.const 17))",
        ),
    ];
    items += &methods.concat();
    items
}

// ---- a chain whose accounts the test can fund ------------------------------

struct Net {
    storage: Arc<MemoryStorage>,
    chain: Chain,
}

impl Net {
    fn new() -> Self {
        let storage = Arc::new(MemoryStorage::new());
        let chain = Chain::with_storage(storage.clone()).expect("chain");
        Self { storage, chain }
    }

    fn deploy(&mut self, code: &[u8]) -> ContractId {
        self.chain
            .deploy(code, "deployer")
            .expect("deploy")
            .contract
    }

    /// Sets `id`'s balance, creating its record.
    fn fund(&self, id: &str, balance: u128) {
        let account = Account {
            balance,
            ..Account::default()
        };
        self.storage
            .apply(&[(account_key(id), Some(borsh::to_vec(&account).unwrap()))])
            .unwrap();
    }

    fn record(&self, id: &str) -> Option<Account> {
        self.storage
            .get(&account_key(id))
            .unwrap()
            .map(|b| decode_account(id, &b).unwrap())
    }

    fn balance(&self, id: &str) -> u128 {
        self.chain.balance(id).unwrap()
    }

    fn call(&mut self, id: &ContractId, method: &str) -> Receipt {
        self.call_with(id, method, b"", 0, GAS)
    }

    fn call_with(
        &mut self,
        id: &ContractId,
        method: &str,
        args: &[u8],
        amount: u128,
        gas: u64,
    ) -> Receipt {
        self.try_call(id, method, args, amount, gas)
            .unwrap_or_else(|e| panic!("call {method}: {e}"))
    }

    fn try_call(
        &mut self,
        id: &ContractId,
        method: &str,
        args: &[u8],
        amount: u128,
        gas: u64,
    ) -> Result<Receipt, Error> {
        let ctx = CallContext {
            amount,
            gas,
            ..ctx()
        };
        self.chain.call(id, method, args, &ctx)
    }

    fn view(&self, id: &ContractId, method: &str, args: &[u8]) -> Receipt {
        self.chain.view(id, method, args, &ctx()).expect("view")
    }

    fn state(&self, id: &ContractId) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.chain.state(id, b"").unwrap()
    }
}

fn returned(receipt: &Receipt) -> &[u8] {
    match &receipt.outcome {
        ReceiptOutcome::Returned(bytes) => bytes,
        other => panic!("expected a return, got {other:?}"),
    }
}

/// A report: the call's status and its register.
fn status(bytes: &[u8]) -> (u32, Vec<u8>) {
    let status = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    (status, bytes[4..].to_vec())
}

fn trap(receipt: &Receipt) -> (TrapKind, Option<String>) {
    assert!(receipt.state_changes.is_empty(), "{receipt:?}");
    match &receipt.outcome {
        ReceiptOutcome::Trapped { kind, message } => (*kind, message.clone()),
        other => panic!("expected a trap, got {other:?}"),
    }
}

fn host_trap(receipt: &Receipt) -> String {
    let (kind, message) = trap(receipt);
    assert_eq!(kind, TrapKind::Host, "{receipt:?}");
    message.expect("a host trap has a message")
}

fn kv(k: &[u8], v: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (k.to_vec(), v.to_vec())
}

/// The one-charge of step 3 for a call handing over `method_len` +
/// `args_len` bytes with a 40-byte id.
fn call_charge(method_len: u64, args_len: u64) -> u64 {
    let f = fees();
    f.host_call_base
        + f.call_base
        + f.memory_read_per_byte * (40 + method_len + args_len + 16)
        + f.call_per_byte * (method_len + args_len)
}

/// Gas of the hub's `ret` method: its page, `value_return` of 2 bytes.
fn ret_gas() -> u64 {
    let f = fees();
    f.instantiate_per_page + consts(2) + call_cost() + f.host_call_base + f.memory_read_per_byte * 2
}

// ---- state across frames ---------------------------------------------------

#[test]
fn a_returned_callee_commits_with_its_caller() {
    let mut net = Net::new();
    let b = net.deploy(&hub(None, None));
    let a = net.deploy(&hub(Some(&b), None));
    let receipt = net.call(&a, "go");
    let (st, reg) = status(returned(&receipt));
    assert_eq!((st, reg.as_slice()), (0, &b"ok"[..]));
    // The receipt lists the called contract's own keys; the callee's
    // write is committed with it.
    assert_eq!(
        receipt.state_changes,
        vec![(b"a".to_vec(), Some(b"1".to_vec()))]
    );
    assert_eq!(net.state(&a), vec![kv(b"a", b"1")]);
    assert_eq!(net.state(&b), vec![kv(b"k", b"b")]);
    let [node] = receipt.calls.as_slice() else {
        panic!("{:?}", receipt.calls)
    };
    assert_eq!(node.contract, b.as_str());
    assert_eq!(node.method, "set");
    assert_eq!(node.amount, 0);
    assert_eq!(
        node.outcome,
        CallOutcome::Returned {
            value: b"ok".to_vec()
        }
    );

    // `caller` in the callee is the calling contract.
    let (st, reg) = status(returned(&net.call(&a, "who")));
    assert_eq!((st, reg), (0, a.as_str().as_bytes().to_vec()));
}

#[test]
fn a_trapped_callee_is_undone_and_its_caller_continues() {
    let mut net = Net::new();
    let b = net.deploy(&hub(None, None));
    let a = net.deploy(&hub(Some(&b), None));

    let receipt = net.call(&a, "go_trap");
    let (st, reg) = status(returned(&receipt));
    assert_eq!((st, reg.as_slice()), (1, &b"unreachable"[..]));
    assert_eq!(net.state(&a), vec![kv(b"a", b"1")]);
    assert!(net.state(&b).is_empty(), "the callee's write is discarded");
    assert_eq!(
        receipt.calls[0].outcome,
        CallOutcome::Trapped {
            kind: "unreachable".into(),
            message: None
        }
    );

    // A `host` trap hands back `kind: message`.
    let receipt = net.call(&a, "go_panic");
    let (st, reg) = status(returned(&receipt));
    assert_eq!((st, reg.as_slice()), (1, &b"host: kb"[..]));
    assert!(net.state(&b).is_empty());
    assert_eq!(
        receipt.calls[0].outcome,
        CallOutcome::Trapped {
            kind: "host".into(),
            message: Some("kb".into())
        }
    );
}

#[test]
fn a_trapped_callee_takes_its_transfers_and_its_callees_writes_with_it() {
    let mut net = Net::new();
    let c = net.deploy(&hub(None, None));
    let b = net.deploy(&hub(Some(&c), None));
    let a = net.deploy(&hub(Some(&b), None));
    net.fund(a.as_str(), 100);

    // A attaches 10 to B; B writes, pays 5 to a new implicit account,
    // calls C (which writes and returns), emits an event, then traps.
    let receipt = net.call(&a, "go_relay");
    let (st, reg) = status(returned(&receipt));
    assert_eq!((st, reg.as_slice()), (1, &b"unreachable"[..]));
    assert_eq!(net.state(&a), vec![kv(b"a", b"1")]);
    assert!(net.state(&b).is_empty());
    assert!(net.state(&c).is_empty(), "C returned, but inside B");
    assert_eq!(
        net.balance(a.as_str()),
        100,
        "the attached amount came back"
    );
    assert_eq!(net.balance(b.as_str()), 0);
    assert_eq!(
        net.record(&implicit_id()),
        None,
        "the receiver was not created"
    );

    let node = &receipt.calls[0];
    assert_eq!(node.amount, 10);
    assert!(matches!(node.outcome, CallOutcome::Trapped { .. }));
    assert!(node.events.is_empty());
    // The tree still holds the call C made, with its outcome.
    let [inner] = node.calls.as_slice() else {
        panic!("{node:?}")
    };
    assert_eq!(inner.contract, c.as_str());
    assert_eq!(
        inner.outcome,
        CallOutcome::Returned {
            value: b"ok".to_vec()
        }
    );
}

#[test]
fn a_caller_trapping_after_a_returned_callee_discards_everything() {
    let mut net = Net::new();
    let b = net.deploy(&hub(None, None));
    let a = net.deploy(&hub(Some(&b), None));
    let commits = net.chain.committed().unwrap();
    let receipt = net.call(&a, "go_trap_after");
    assert_eq!(trap(&receipt).0, TrapKind::Unreachable);
    assert!(net.state(&a).is_empty());
    assert!(net.state(&b).is_empty());
    assert_eq!(net.chain.committed().unwrap(), commits);
    assert_eq!(
        receipt.calls[0].outcome,
        CallOutcome::Returned {
            value: b"ok".to_vec()
        }
    );
}

// ---- refusals ----------------------------------------------------------------

/// The hub plus `base` (= `setup`), `with` (= `setup`, then `call` with
/// its status dropped) and `rep` (= `setup`, then `report(call)`).
fn probe(id0: Option<&ContractId>, id1: Option<&ContractId>, setup: &str, call: &str) -> Vec<u8> {
    let items = hub_items(id0, id1)
        + &method("base", setup)
        + &method("with", &format!("{setup} (drop {call})"))
        + &method("rep", &format!("{setup} {}", report(call)));
    module(1, &items)
}

/// Gas of `with` minus gas of `base`, and `with`'s receipt. `base` runs
/// twice so that both measured runs find what it writes (replacing a value
/// pays for the old one).
fn delta(net: &mut Net, id: &ContractId) -> (u64, Receipt) {
    assert!(net.call(id, "base").is_success());
    let base = net.call(id, "base");
    assert!(base.is_success(), "{base:?}");
    let with = net.call(id, "with");
    (with.gas_used - base.gas_used, with)
}

/// What the snippet `(drop (call $call_contract …))` costs in Wasm.
fn call_snippet() -> u64 {
    consts(9) + call_cost() + drop_cost()
}

#[test]
fn refused_calls_report_why_and_cost_no_callee_gas() {
    let f = fees();
    let mut net = Net::new();
    let b = net.deploy(&hub(None, None));
    // A contract id that was never deployed.
    let ghost = ContractId::parse(&"0".repeat(40)).unwrap();
    let own_id =
        "(call $current_contract (i64.const 5)) (call $read_register (i64.const 5) (i32.const 40))";
    let cases: Vec<(&str, &str, String, u64)> = vec![
        ("unknown_contract", "", cc(40, "ret", ZERO, -1), 3),
        // Not a contract id at all: the bytes of the method names.
        (
            "unknown_contract",
            "",
            cc_raw((128, 40), name("ret"), (0, 0), ZERO, -1, 1),
            3,
        ),
        // Not UTF-8.
        (
            "unknown_contract",
            "",
            cc_raw((1100, 40), name("ret"), (0, 0), ZERO, -1, 1),
            3,
        ),
        ("unknown_method", "", cc(0, "missing", ZERO, -1), 7),
        ("not_a_method", "", cc(0, "take", ZERO, -1), 4),
        ("reentrancy", own_id, cc(40, "ret", ZERO, -1), 3),
        // The hub holds nothing: 10 is more than its balance.
        ("insufficient_balance", "", cc(0, "attached", AMOUNT, -1), 8),
    ];
    for (kind, setup, call, method_len) in cases {
        // The topics at 1100 start with 0x01 bytes: valid UTF-8, so for the
        // not-UTF-8 case put 0xff there instead.
        let setup = if call.contains("(i32.const 1100) (i32.const 40)") {
            format!("(i32.store8 (i32.const 1100) (i32.const 255)) {setup}")
        } else {
            setup.to_string()
        };
        let a = net.deploy(&probe(Some(&b), Some(&ghost), &setup, &call));
        let receipt = net.call(&a, "rep");
        let (st, text) = status(returned(&receipt));
        let text = String::from_utf8(text).unwrap();
        assert_eq!(st, 2, "{kind}: {text}");
        let [node] = receipt.calls.as_slice() else {
            panic!("{receipt:?}")
        };
        let CallOutcome::Refused {
            kind: node_kind,
            message,
        } = &node.outcome
        else {
            panic!("{kind}: {node:?}")
        };
        assert_eq!(node_kind, kind);
        assert_eq!(text, format!("{kind}: {message}"));
        assert_eq!((node.gas_limit, node.gas_used), (0, 0), "{kind}");
        assert!(node.calls.is_empty() && node.logs.is_empty());

        let (gas, with) = delta(&mut net, &a);
        assert!(with.is_success());
        assert_eq!(
            gas,
            call_snippet()
                + call_charge(method_len, 0)
                + f.register_write_per_byte * text.len() as u64,
            "{kind}"
        );
    }
    assert!(net.state(&b).is_empty());
}

#[test]
fn reentrancy_is_checked_against_the_whole_stack() {
    let mut net = Net::new();
    let b = net.deploy(&hub(None, None));
    let a = net.deploy(&hub(Some(&b), None));
    // A → B → A: B is told `reentrancy`, and returns that report to A.
    let receipt = net.call(&a, "loop_back");
    let (st, inner) = status(returned(&receipt));
    assert_eq!(st, 0);
    let (inner_st, text) = status(&inner);
    assert_eq!(inner_st, 2);
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("reentrancy: "), "{text}");
    assert!(text.contains(a.as_str()), "{text}");
    let node = &receipt.calls[0].calls[0];
    assert_eq!(node.contract, a.as_str());
    assert!(matches!(&node.outcome, CallOutcome::Refused { kind, .. } if kind == "reentrancy"));
}

// ---- gas across calls (docs/gas.md §9) -----------------------------------------

/// Gas the hub spends before its call's charge: its page and the method's
/// one metered block.
fn before_call() -> u64 {
    fees().instantiate_per_page + call_snippet()
}

/// The callee's limit when the caller passes everything it may.
fn limit_from(gas: u64, method_len: u64) -> u64 {
    let left = gas - before_call() - call_charge(method_len, 0);
    left - left / fees().call_reserve_divisor
}

#[test]
fn a_callee_burning_everything_gets_all_but_a_64th_and_the_caller_finishes() {
    let f = fees();
    let mut net = Net::new();
    let b = net.deploy(&hub(None, None));
    let a = net.deploy(&hub(Some(&b), None));
    for gas in [GAS, 1_000_000] {
        let receipt = net.call_with(&a, "grief", b"", 0, gas);
        assert!(receipt.is_success(), "{receipt:?}");
        let node = &receipt.calls[0];
        let limit = limit_from(gas, 4);
        assert_eq!(node.gas_limit, limit);
        assert_eq!(node.gas_used, limit);
        assert_eq!(
            node.outcome,
            CallOutcome::Trapped {
                kind: "out_of_gas".into(),
                message: None
            }
        );
        // The caller pays its own gas, the callee's whole limit and the
        // ten bytes of `out_of_gas` in the register.
        assert_eq!(
            receipt.gas_used,
            before_call() + call_charge(4, 0) + limit + f.register_write_per_byte * 10
        );
        // What it kept: a 64th of what it had, less the register's bytes.
        assert!(gas - receipt.gas_used >= (gas - before_call() - call_charge(4, 0)) / 64 - 10);
    }

    // A bounded griefer costs the victim exactly the bound.
    let receipt = net.call(&a, "grief_bounded");
    let node = &receipt.calls[0];
    assert_eq!((node.gas_limit, node.gas_used), (50_000, 50_000));
    assert_eq!(
        receipt.gas_used,
        before_call() + call_charge(4, 0) + 50_000 + f.register_write_per_byte * 10
    );
}

#[test]
fn unused_callee_gas_stays_with_the_caller() {
    let f = fees();
    let mut net = Net::new();
    let b = net.deploy(&hub(None, None));
    let a = net.deploy(&hub(Some(&b), None));
    let receipt = net.call(&a, "cheap");
    let node = &receipt.calls[0];
    assert_eq!(node.gas_limit, limit_from(GAS, 3));
    assert_eq!(node.gas_used, ret_gas());
    assert_eq!(
        receipt.gas_used,
        before_call() + call_charge(3, 0) + ret_gas() + f.register_write_per_byte * 2
    );
    // The same method called by a transaction costs the same.
    assert_eq!(net.call(&b, "ret").gas_used, ret_gas());

    // A limit below the callee's instantiation fee: `out_of_gas`, the
    // limit charged, nothing run.
    let a = net.deploy(&probe(Some(&b), None, "", &cc(0, "ret", ZERO, 100)));
    let (gas, with) = delta(&mut net, &a);
    let node = &with.calls[0];
    assert_eq!((node.gas_limit, node.gas_used), (100, 100));
    assert_eq!(
        gas,
        call_snippet() + call_charge(3, 0) + 100 + f.register_write_per_byte * 10
    );
}

#[test]
fn a_huge_return_value_is_paid_by_both_sides() {
    let f = fees();
    let max = f.max_return_len;
    let mut net = Net::new();
    // 17 pages: room for 1 MiB and one byte more.
    let huge = net.deploy(&module(
        17,
        &(method(
            "max",
            &format!("(call $value_return (i32.const 0) (i32.const {max}))"),
        ) + &method(
            "over",
            &format!("(call $value_return (i32.const 0) (i32.const {}))", max + 1),
        )),
    ));
    let callee_gas = |bytes: u64| {
        17 * f.instantiate_per_page
            + consts(2)
            + call_cost()
            + f.host_call_base
            + f.memory_read_per_byte * bytes
    };

    let a = net.deploy(&probe(Some(&huge), None, "", &cc(0, "max", ZERO, -1)));
    let (gas, with) = delta(&mut net, &a);
    let node = &with.calls[0];
    assert_eq!(node.gas_used, callee_gas(max));
    let CallOutcome::Returned { value } = &node.outcome else {
        panic!("{:?}", node.outcome)
    };
    assert_eq!(value.len() as u64, max);
    // The callee paid to read it out of its memory, the caller pays to
    // receive it in a register.
    assert_eq!(
        gas,
        call_snippet() + call_charge(3, 0) + callee_gas(max) + f.register_write_per_byte * max
    );

    // One byte over: the callee traps before the per-byte charge; the
    // caller is told why and continues.
    let a = net.deploy(&probe(Some(&huge), None, "", &cc(0, "over", ZERO, -1)));
    let (gas, with) = delta(&mut net, &a);
    assert!(with.is_success());
    let CallOutcome::Trapped { kind, message } = &with.calls[0].outcome else {
        panic!("{:?}", with.calls[0].outcome)
    };
    assert_eq!(kind, "host");
    let message = message.clone().unwrap();
    assert!(message.contains("value_return"), "{message}");
    let text_len = format!("host: {message}").len() as u64;
    assert_eq!(
        gas,
        call_snippet() + call_charge(4, 0) + callee_gas(0) + f.register_write_per_byte * text_len
    );
}

// ---- the call depth limit ---------------------------------------------------------

/// A contract that writes key [depth] = "x" and calls itself with the
/// next depth, returning its callee's status and register. `down_strict`
/// traps when its callee did not return.
fn bomb(reentrant: bool) -> Vec<u8> {
    let marker = if reentrant {
        "(func (export \"__detvm_reentrant\"))"
    } else {
        ""
    };
    let body = r#"
      (func $down (param $strict i32) (param $mp i32) (param $ml i32) (local $st i32)
        (call $current_contract (i64.const 5)) (call $read_register (i64.const 5) (i32.const 0))
        (call $input (i64.const 6)) (call $read_register (i64.const 6) (i32.const 100))
        (drop (call $storage_write (i32.const 100) (i32.const 1) (i32.const 200) (i32.const 1) (i64.const 9)))
        (i32.store8 (i32.const 100) (i32.add (i32.load8_u (i32.const 100)) (i32.const 1)))
        (local.set $st (call $call_contract (i32.const 0) (i32.const 40) (local.get $mp) (local.get $ml)
          (i32.const 100) (i32.const 1) (i32.const 816) (i64.const -1) (i64.const 1)))
        (if (i32.and (local.get $strict) (i32.ne (local.get $st) (i32.const 0))) (then unreachable))
        (i32.store (i32.const 1024) (local.get $st))
        (call $read_register (i64.const 1) (i32.const 1028))
        (call $value_return (i32.const 1024)
          (i32.add (i32.const 4) (i32.wrap_i64 (call $register_len (i64.const 1))))))
      (func (export "down") (call $down (i32.const 0) (i32.const 300) (i32.const 4)))
      (func (export "down_strict") (call $down (i32.const 1) (i32.const 310) (i32.const 11)))
      (data (i32.const 200) "x") (data (i32.const 300) "down") (data (i32.const 310) "down_strict")
    "#;
    module(1, &format!("{marker} {body}"))
}

#[test]
fn a_reentrant_bomb_stops_at_the_depth_limit() {
    let f = fees();
    assert_eq!(f.max_call_depth, 16);
    let mut net = Net::new();
    let r = net.deploy(&bomb(true));
    let receipt = net.call_with(&r, "down", &[1], 0, GAS);
    let out = returned(&receipt);
    // Frames 1 to 14 saw their callee return; frame 15 saw frame 16 trap
    // on its own call, which would have been frame 17.
    for frame in 0..14 {
        assert_eq!(status(&out[4 * frame..]).0, 0, "frame {}", frame + 1);
    }
    let (st, text) = status(&out[4 * 14..]);
    assert_eq!(st, 1);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.starts_with("host: call_contract: ") && text.contains("call depth limit"),
        "{text}"
    );
    // Frame 16's write went with it; every other frame's stayed.
    let expected: Vec<_> = (1..=15u8).map(|d| kv(&[d], b"x")).collect();
    assert_eq!(net.state(&r), expected);
    let calls = receipt.all_calls();
    assert_eq!(calls.len(), 15);
    for (i, (depth, node)) in calls.iter().enumerate() {
        assert_eq!(*depth, i + 1);
        assert_eq!(node.contract, r.as_str());
        if i < 14 {
            assert!(matches!(node.outcome, CallOutcome::Returned { .. }));
        } else {
            let CallOutcome::Trapped { kind, message } = &node.outcome else {
                panic!("{node:?}")
            };
            assert_eq!(kind, "host");
            assert!(message.as_deref().unwrap().contains("call depth limit"));
            assert!(node.calls.is_empty());
        }
    }

    // When every frame gives up on a failed callee, nothing is left.
    let receipt = net.call_with(&r, "down_strict", &[20], 0, GAS);
    assert_eq!(trap(&receipt).0, TrapKind::Unreachable);
    assert_eq!(net.state(&r), expected, "unchanged by the failed bomb");
    let calls = receipt.all_calls();
    assert_eq!(calls.len(), 15);
    for (i, (_, node)) in calls.iter().enumerate() {
        let CallOutcome::Trapped { kind, .. } = &node.outcome else {
            panic!("{node:?}")
        };
        assert_eq!(kind, if i < 14 { "unreachable" } else { "host" });
    }

    // Without the marker the bomb is refused at its first re-entry.
    let plain = net.deploy(&bomb(false));
    let receipt = net.call_with(&plain, "down", &[1], 0, GAS);
    let (st, text) = status(returned(&receipt));
    assert_eq!(st, 2);
    assert!(String::from_utf8(text).unwrap().starts_with("reentrancy: "));
    assert_eq!(net.state(&plain), vec![kv(&[1], b"x")]);
}

// ---- argument checks ------------------------------------------------------------------

#[test]
fn call_contract_checks_bounds_then_lengths_before_charging() {
    let f = fees();
    let mut net = Net::new();
    let b = net.deploy(&hub(None, None));
    let (rp, rl) = name("ret");
    let cases = [
        (
            cc_raw((0, 65), (rp, rl), (0, 0), ZERO, -1, 1),
            None,
            "contract id",
        ),
        (
            cc_raw((0, 40), (128, 257), (0, 0), ZERO, -1, 1),
            None,
            "method name",
        ),
        (
            cc_raw((65530, 40), (rp, rl), (0, 0), ZERO, -1, 1),
            Some(TrapKind::MemoryOutOfBounds),
            "",
        ),
        (
            cc_raw((0, 40), (65535, 2), (0, 0), ZERO, -1, 1),
            Some(TrapKind::MemoryOutOfBounds),
            "",
        ),
        (
            cc_raw((0, 40), (rp, rl), (65000, 1000), ZERO, -1, 1),
            Some(TrapKind::MemoryOutOfBounds),
            "",
        ),
        (
            cc_raw((0, 40), (rp, rl), (0, 0), 65530, -1, 1),
            Some(TrapKind::MemoryOutOfBounds),
            "",
        ),
        // A pointer that wraps around 2^32.
        (
            cc_raw((-16i32 as u32, 40), (rp, rl), (0, 0), ZERO, -1, 1),
            Some(TrapKind::MemoryOutOfBounds),
            "",
        ),
        // Bounds come before lengths.
        (
            cc_raw((65530, 65), (rp, rl), (0, 0), ZERO, -1, 1),
            Some(TrapKind::MemoryOutOfBounds),
            "",
        ),
    ];
    for (call, kind, text) in cases {
        let a = net.deploy(&probe(Some(&b), None, WRITE_A, &call));
        let (gas, with) = delta(&mut net, &a);
        match kind {
            Some(kind) => assert_eq!(trap(&with).0, kind, "{call}"),
            None => {
                let message = host_trap(&with);
                assert!(
                    message.starts_with("call_contract: ") && message.contains(text),
                    "{message}"
                );
            }
        }
        assert!(with.calls.is_empty());
        assert_eq!(gas, call_snippet() + f.host_call_base, "{call}");
        assert_eq!(net.state(&a), vec![kv(b"a", b"1")]);
    }
}

#[test]
fn arguments_longer_than_the_input_limit_trap_host() {
    let f = fees();
    let mut net = Net::new();
    let b = net.deploy(&hub(None, None));
    let max = f.max_input_len;
    let pages = (max + 1).div_ceil(65536) as u32 + 1;
    let items = data(0, b.as_str().as_bytes())
        + &data(100, b"ret")
        + &method(
            "m",
            &format!(
                "(drop {})",
                cc_raw((0, 40), (100, 3), (0, max as u32 + 1), ZERO, -1, 1)
            ),
        );
    let a = net.deploy(&module(pages, &items));
    let message = host_trap(&net.call(&a, "m"));
    assert!(message.contains("arguments"), "{message}");
}

// ---- views ---------------------------------------------------------------------------

#[test]
fn a_view_stays_a_view_down_the_stack_and_moves_no_tokens() {
    let mut net = Net::new();
    let b = net.deploy(&hub(None, None));
    let a = net.deploy(&hub(Some(&b), None));
    net.fund(a.as_str(), 100);

    let message = host_trap(&net.view(&a, "pay", b""));
    assert!(
        message.starts_with("call_contract: ") && message.contains("cannot attach tokens"),
        "{message}"
    );
    // The callee of a view is a view: its write traps, the caller goes on.
    let (st, text) = status(returned(&net.view(&a, "go_nowrite", b"")));
    assert_eq!(st, 1);
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("host: storage_write: "), "{text}");

    let mut args = 1u128.to_le_bytes().to_vec();
    args.extend_from_slice(b"alice");
    let message = host_trap(&net.view(&a, "xfer", &args));
    assert!(message.starts_with("transfer: "), "{message}");
    assert_eq!(net.balance(a.as_str()), 100);
    assert_eq!(net.balance(b.as_str()), 0);
}

// ---- native value ----------------------------------------------------------------------

fn u128_at(bytes: &[u8]) -> u128 {
    u128::from_le_bytes(bytes[..16].try_into().unwrap())
}

/// `xfer`'s input: the amount, then the receiver.
fn xfer_args(amount: u128, to: &str) -> Vec<u8> {
    let mut args = amount.to_le_bytes().to_vec();
    args.extend_from_slice(to.as_bytes());
    args
}

#[test]
fn attached_amounts_move_before_the_method_and_back_on_a_trap() {
    let mut net = Net::new();
    let b = net.deploy(&hub(None, None));
    let a = net.deploy(&hub(Some(&b), None));
    net.fund("alice", 100);

    let receipt = net.call_with(&a, "attached", b"", 30, GAS);
    assert_eq!(u128_at(returned(&receipt)), 30);
    assert_eq!((net.balance("alice"), net.balance(a.as_str())), (70, 30));

    let receipt = net.call_with(&a, "attached_then_trap", b"", 30, GAS);
    assert_eq!(trap(&receipt).0, TrapKind::Unreachable);
    assert_eq!((net.balance("alice"), net.balance(a.as_str())), (70, 30));

    for (who, amount) in [("alice", 71), ("nobody", 1)] {
        let ctx = CallContext {
            caller: who.into(),
            amount,
            ..ctx()
        };
        let err = net.chain.call(&a, "attached", b"", &ctx).unwrap_err();
        assert_eq!(err.kind(), "insufficient_balance", "{err}");
    }
    assert_eq!((net.balance("alice"), net.balance(a.as_str())), (70, 30));

    // A contract attaches 10 of its 30 to B, which sees them already in
    // its balance when it starts.
    let (st, value) = status(returned(&net.call(&a, "pay")));
    assert_eq!((st, u128_at(&value)), (0, 10));
    let (st, value) = status(returned(&net.call(&a, "pay_selfbal")));
    assert_eq!((st, u128_at(&value)), (0, 20));
    assert_eq!((net.balance(a.as_str()), net.balance(b.as_str())), (10, 20));
    let receipt = net.call(&a, "pay");
    assert_eq!(receipt.calls[0].amount, 10);
    assert_eq!((net.balance(a.as_str()), net.balance(b.as_str())), (0, 30));
    // Now A has nothing left to attach.
    let (st, text) = status(returned(&net.call(&a, "pay")));
    assert_eq!(st, 2);
    assert!(
        String::from_utf8(text)
            .unwrap()
            .starts_with("insufficient_balance: ")
    );
}

#[test]
fn transfer_follows_the_rules_of_a_transfer_transaction() {
    let mut net = Net::new();
    let x = net.deploy(&hub(None, None));
    let ghost = "0".repeat(40);
    net.fund(x.as_str(), 100);
    net.fund("carol", 1);

    // An implicit receiver is created, with its key.
    let implicit = implicit_id();
    let out = returned(&net.call_with(&x, "xfer", &xfer_args(7, &implicit), 0, GAS)).to_vec();
    assert_eq!((u128_at(&out), out[16]), (7, 1), "as the call sees it");
    let record = net.record(&implicit).expect("created");
    assert_eq!(record.balance, 7);
    assert_eq!(record.public_key, Some([0xab; 32]));
    assert_eq!(net.balance(x.as_str()), 93);

    let receipt = net.call_with(&x, "xfer", &xfer_args(7, "carol"), 0, GAS);
    assert_eq!(u128_at(returned(&receipt)), 8);
    assert_eq!(net.balance(x.as_str()), 86);

    // To itself, or nothing: nothing moves.
    let out = returned(&net.call_with(&x, "xfer", &xfer_args(50, x.as_str()), 0, GAS)).to_vec();
    assert_eq!(u128_at(&out), 86);
    let out = returned(&net.call_with(&x, "xfer", &xfer_args(0, "carol"), 0, GAS)).to_vec();
    assert_eq!(u128_at(&out), 8);

    let traps = [
        (xfer_args(1, "bob"), "unknown account"),
        // The receiver is checked before the amount.
        (xfer_args(0, "bob"), "unknown account"),
        (xfer_args(1000, "bob"), "unknown account"),
        (xfer_args(1, &ghost), "unknown account"),
        (xfer_args(87, "carol"), "insufficient balance"),
        (xfer_args(87, x.as_str()), "insufficient balance"),
        (xfer_args(1, "no spaces"), "invalid account id"),
        (
            xfer_args(1, &"a".repeat(65)),
            "transfer: the account id is 65 bytes",
        ),
    ];
    for (args, text) in traps {
        let message = host_trap(&net.call_with(&x, "xfer", &args, 0, GAS));
        assert!(
            message.starts_with("transfer: ") && message.contains(text),
            "{message}"
        );
    }
    assert_eq!(net.balance(x.as_str()), 86);
    assert_eq!(net.balance("carol"), 8);
    assert_eq!(net.record("bob"), None);
    assert_eq!(net.record(&ghost), None);

    // `balance` of an account without a record: 0, flag 0.
    let out = returned(&net.call_with(&x, "bal", b"nobody", 0, GAS)).to_vec();
    assert_eq!((u128_at(&out), out[16]), (0, 0));
    let out = returned(&net.call_with(&x, "bal", b"carol", 0, GAS)).to_vec();
    assert_eq!((u128_at(&out), out[16]), (8, 1));
    let message = host_trap(&net.call_with(&x, "bal", b"not valid", 0, GAS));
    assert!(message.starts_with("balance: "), "{message}");
}

/// The hub with `carol` at 3000 plus `base` (= `setup`) and `with` (=
/// `setup` then `snippet`).
fn probe_raw(setup: &str, snippet: &str) -> Vec<u8> {
    let items = hub_items(None, None)
        + &data(3000, b"carol")
        + &method("base", setup)
        + &method("with", &format!("{setup} {snippet}"));
    module(1, &items)
}

#[test]
fn value_functions_charge_their_documented_fees() {
    let f = fees();
    let mut net = Net::new();
    net.fund("carol", 0);

    let id = net.deploy(&probe_raw("", "(call $attached_amount (i32.const 2048))"));
    assert_eq!(
        delta(&mut net, &id).0,
        consts(1) + call_cost() + f.host_call_base + f.memory_write_per_byte * 16
    );

    let id = net.deploy(&probe_raw(
        "",
        "(drop (call $balance (i32.const 3000) (i32.const 5) (i32.const 2048)))",
    ));
    assert_eq!(
        delta(&mut net, &id).0,
        consts(3)
            + call_cost()
            + drop_cost()
            + f.host_call_base
            + f.memory_read_per_byte * 5
            + f.memory_write_per_byte * 16
            + f.balance_base
    );

    let id = net.deploy(&probe_raw(
        "",
        &format!("(call $transfer (i32.const 3000) (i32.const 5) (i32.const {FIVE}))"),
    ));
    net.fund(id.as_str(), 100);
    let (gas, with) = delta(&mut net, &id);
    assert!(with.is_success());
    assert_eq!(
        gas,
        consts(3)
            + call_cost()
            + f.host_call_base
            + f.memory_read_per_byte * (5 + 16)
            + f.transfer_base
    );
    assert_eq!(net.balance("carol"), 5);
}

// ---- events ------------------------------------------------------------------------------

#[test]
fn events_are_kept_in_emission_order_only_when_every_frame_returned() {
    let mut net = Net::new();
    let c = net.deploy(&hub(None, None));
    let b = net.deploy(&hub(Some(&c), None));
    let a = net.deploy(&hub(Some(&b), Some(&c)));

    let receipt = net.call(&a, "ev_go");
    assert!(receipt.is_success(), "{receipt:?}");
    assert_eq!(receipt.events, vec![event(&a, 1, 0), event(&a, 2, 1)]);
    assert_eq!(receipt.calls[0].events_before, 1);
    assert_eq!(receipt.calls[1].events_before, 2);
    assert_eq!(
        receipt.all_events(),
        vec![
            event(&a, 1, 0),
            event(&b, 0, 2),
            event(&b, 4, 3),
            event(&a, 2, 1),
            event(&c, 3, 4),
        ]
    );
    assert_eq!(
        receipt.calls[0].all_events(),
        vec![event(&b, 0, 2), event(&b, 4, 3)]
    );

    // B emits, calls C (which emits and returns), then traps: none of
    // theirs is kept, A's is.
    let receipt = net.call(&a, "ev_trap_callee");
    assert_eq!(status(returned(&receipt)).0, 1);
    assert_eq!(receipt.all_events(), vec![event(&a, 1, 0)]);
    let node = &receipt.calls[0];
    assert!(node.events.is_empty());
    assert!(matches!(
        node.calls[0].outcome,
        CallOutcome::Returned { .. }
    ));
    assert!(node.calls[0].events.is_empty());

    // The caller traps after its callee returned: nothing is kept.
    let receipt = net.call(&a, "ev_trap_after");
    assert_eq!(trap(&receipt).0, TrapKind::Unreachable);
    assert!(receipt.events.is_empty());
    assert!(receipt.all_events().is_empty());
}

#[test]
fn event_limits_are_per_frame_and_checked_before_the_charge() {
    let f = fees();
    let mut net = Net::new();
    let b = net.deploy(&hub(None, None));
    let a = net.deploy(&hub(Some(&b), None));

    let message = host_trap(&net.call(&a, "ev_5_topics"));
    assert!(
        message.starts_with("emit_event: ") && message.contains("5 topics"),
        "{message}"
    );
    let message = host_trap(&net.call(&a, "ev_101"));
    assert!(
        message.contains(&format!("more than {} events", f.max_events)),
        "{message}"
    );
    let message = host_trap(&net.call(&a, "ev_bytes"));
    assert!(
        message.contains(&format!("at most {}", f.max_event_bytes)),
        "{message}"
    );
    let receipt = net.call(&a, "ev_bytes_exact");
    assert_eq!(receipt.events.len(), 2, "{receipt:?}");

    // A frame's limits are its own: 100 events in A, 100 more in B.
    let receipt = net.call(&a, "ev_100_then_call");
    assert_eq!(status(returned(&receipt)).0, 0);
    assert_eq!(receipt.events.len(), 100);
    assert_eq!(receipt.calls[0].events.len(), 100);
    assert_eq!(receipt.calls[0].events_before, 100);
    assert_eq!(receipt.all_events().len(), 200);

    // The fee: reading the topics and data, the base, per topic, per byte.
    let id = net.deploy(&probe_raw("", &emit(2, 0)));
    assert_eq!(
        delta(&mut net, &id).0,
        consts(4)
            + call_cost()
            + f.host_call_base
            + f.memory_read_per_byte * (64 + 2)
            + f.event_base
            + f.event_per_topic * 2
            + f.event_per_byte * 2
    );
    // Over a limit: only the base fee.
    let id = net.deploy(&probe_raw(
        "",
        "(call $emit_event (i32.const 1100) (i32.const 5) (i32.const 1300) (i32.const 2))",
    ));
    let (gas, with) = delta(&mut net, &id);
    host_trap(&with);
    assert_eq!(gas, consts(4) + call_cost() + f.host_call_base);
}

// ---- keccak256 and ed25519_verify ----------------------------------------------------------

#[test]
fn keccak256_matches_known_vectors_and_its_fee() {
    let f = fees();
    let mut net = Net::new();
    let items = method(
        "k",
        "(call $input (i64.const 0)) (call $read_register (i64.const 0) (i32.const 2048)) \
         (call $keccak256 (i32.const 2048) (i32.wrap_i64 (call $register_len (i64.const 0))) (i64.const 1)) \
         (call $read_register (i64.const 1) (i32.const 1024)) (call $value_return (i32.const 1024) (i32.const 32))",
    );
    let id = net.deploy(&module(1, &items));
    let mut hash =
        |input: &[u8]| detvm_host::hex(returned(&net.call_with(&id, "k", input, 0, GAS)));
    assert_eq!(
        hash(b""),
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    );
    assert_eq!(
        hash(b"abc"),
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    );
    // The original Keccak padding, not SHA3-256's (a7ffc6f8… for "").
    assert_ne!(
        hash(b""),
        "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
    );
    // Longer than one block (136 bytes).
    let long = vec![0x61u8; 1000];
    use sha3::Digest as _;
    assert_eq!(
        hash(&long),
        detvm_host::hex(&sha3::Keccak256::digest(&long))
    );

    let id = net.deploy(&probe_raw(
        "",
        "(call $keccak256 (i32.const 0) (i32.const 100) (i64.const 1))",
    ));
    assert_eq!(
        delta(&mut net, &id).0,
        consts(3)
            + call_cost()
            + f.host_call_base
            + f.memory_read_per_byte * 100
            + f.keccak256_base
            + f.keccak256_per_byte * 100
    );
}

#[test]
fn ed25519_verify_is_strict_and_never_traps_on_bad_keys() {
    use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
    let f = fees();
    let mut net = Net::new();
    // Input: signature (64) ++ key (32) ++ message.
    let setup = "(call $input (i64.const 0)) (call $read_register (i64.const 0) (i32.const 2048))";
    let items = method(
        "v",
        &format!(
            "{setup} (i32.store (i32.const 1024) (call $ed25519_verify (i32.const 2048) (i32.const 2112) \
             (i32.const 2144) (i32.sub (i32.wrap_i64 (call $register_len (i64.const 0))) (i32.const 96)))) \
             (call $value_return (i32.const 1024) (i32.const 4))"
        ),
    ) + &method("base", setup)
        + &method(
            "with",
            &format!(
                "{setup} (drop (call $ed25519_verify (i32.const 2048) (i32.const 2112) (i32.const 2144) (i32.const 5)))"
            ),
        );
    let id = net.deploy(&module(1, &items));
    let verify = |net: &mut Net, sig: &[u8], key: &[u8], msg: &[u8]| {
        let input = [sig, key, msg].concat();
        let out = returned(&net.call_with(&id, "v", &input, 0, GAS)).to_vec();
        u32::from_le_bytes(out.try_into().unwrap())
    };

    let signing = SigningKey::from_bytes(&[7; 32]);
    let key = signing.verifying_key().to_bytes();
    let msg = b"hello";
    let sig = signing.sign(msg).to_bytes();
    assert_eq!(verify(&mut net, &sig, &key, msg), 1);
    assert_eq!(
        verify(&mut net, &sig, &key, b"hellp"),
        0,
        "tampered message"
    );
    let mut bad = sig;
    bad[0] ^= 1;
    assert_eq!(verify(&mut net, &bad, &key, msg), 0, "tampered R");
    // S + L: the same point equation, a non-canonical scalar.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut high = sig;
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(high[32 + i]) + u16::from(L[i]) + carry;
        high[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    assert_eq!(verify(&mut net, &high, &key, msg), 0, "non-canonical S");
    // A key that is not a curve point: 0, not a trap.
    let not_a_point = (2u8..)
        .map(|y| {
            let mut k = [0u8; 32];
            k[0] = y;
            k
        })
        .find(|k| VerifyingKey::from_bytes(k).is_err())
        .unwrap();
    assert_eq!(verify(&mut net, &sig, &not_a_point, msg), 0);
    // The identity as key, R the identity and S = 0 satisfy the
    // cofactorless equation for every message; the strict rules refuse a
    // small-order key.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let forged = [&identity[..], &[0u8; 32]].concat();
    let weak = VerifyingKey::from_bytes(&identity).unwrap();
    let forged_sig = ed25519_dalek::Signature::from_slice(&forged).unwrap();
    assert!(weak.verify_strict(msg, &forged_sig).is_err());
    assert_eq!(verify(&mut net, &forged, &identity, msg), 0);

    // The fee, whatever the verdict.
    let cost = consts(4)
        + call_cost()
        + drop_cost()
        + f.host_call_base
        + f.memory_read_per_byte * (96 + 5)
        + f.ed25519_verify_base
        + f.ed25519_verify_per_byte * 5;
    for input in [
        [&sig[..], &key, msg].concat(),
        [&bad[..], &not_a_point, msg].concat(),
    ] {
        let base = net.call_with(&id, "base", &input, 0, GAS);
        let with = net.call_with(&id, "with", &input, 0, GAS);
        assert!(with.is_success());
        assert_eq!(with.gas_used - base.gas_used, cost);
    }
}

// ---- the reentrancy rule is what protects a vault --------------------------------------

/// A vault with the classic bug: `withdraw` pays 10 through the caller's
/// `on_payment`, then writes back the credit it read before paying.
fn vault(reentrant: bool) -> Vec<u8> {
    let marker = if reentrant {
        "(func (export \"__detvm_reentrant\"))"
    } else {
        ""
    };
    let body = r#"
      (func $credit (result i64)
        (if (i32.eqz (call $storage_read (i32.const 500) (i32.const 1) (i64.const 3)))
          (then (return (i64.const 0))))
        (call $read_register (i64.const 3) (i32.const 600))
        (i64.load (i32.const 600)))
      (func $set_credit (param i64)
        (i64.store (i32.const 600) (local.get 0))
        (drop (call $storage_write (i32.const 500) (i32.const 1) (i32.const 600) (i32.const 8) (i64.const 9))))
      (func (export "init") (call $set_credit (i64.const 10)))
      (func (export "withdraw") (local $c i64)
        (local.set $c (call $credit))
        (if (i64.lt_u (local.get $c) (i64.const 10)) (then unreachable))
        (call $caller (i64.const 5)) (call $read_register (i64.const 5) (i32.const 0))
        (drop (call $call_contract (i32.const 0) (i32.const 40) (i32.const 100) (i32.const 10)
          (i32.const 0) (i32.const 0) (i32.const 800) (i64.const -1) (i64.const 1)))
        (call $set_credit (i64.sub (local.get $c) (i64.const 10))))
      (data (i32.const 100) "on_payment") (data (i32.const 500) "c")
    "#;
    module(
        1,
        &format!("{marker} {body} {}", data(800, &10u128.to_le_bytes())),
    )
}

/// An attacker that accepts the vault's payment callback (it has the
/// marker) and re-enters `withdraw` from it, twice at most; it records
/// the status of its last re-entry under `s`.
fn thief(vault: &ContractId) -> Vec<u8> {
    let body = r#"
      (func (export "__detvm_reentrant"))
      (func $withdraw (result i32)
        (call $call_contract (i32.const 0) (i32.const 40) (i32.const 100) (i32.const 8)
          (i32.const 0) (i32.const 0) (i32.const 816) (i64.const -1) (i64.const 1)))
      (func (export "start") (drop (call $withdraw)))
      (func (export "on_payment") (local $n i64)
        (if (call $storage_read (i32.const 200) (i32.const 1) (i64.const 3))
          (then (call $read_register (i64.const 3) (i32.const 300))))
        (local.set $n (i64.add (i64.load (i32.const 300)) (i64.const 1)))
        (i64.store (i32.const 300) (local.get $n))
        (drop (call $storage_write (i32.const 200) (i32.const 1) (i32.const 300) (i32.const 8) (i64.const 9)))
        (if (i64.lt_u (local.get $n) (i64.const 3))
          (then
            (i32.store (i32.const 400) (call $withdraw))
            (drop (call $storage_write (i32.const 201) (i32.const 1) (i32.const 400) (i32.const 4) (i64.const 9))))))
      (data (i32.const 100) "withdraw") (data (i32.const 200) "ns")
    "#;
    module(1, &format!("{body} {}", data(0, vault.as_str().as_bytes())))
}

#[test]
fn a_vault_paying_before_it_updates_is_safe_only_without_the_marker() {
    for reentrant in [false, true] {
        let mut net = Net::new();
        let v = net.deploy(&vault(reentrant));
        let t = net.deploy(&thief(&v));
        net.fund(v.as_str(), 100);
        // The thief's legitimate credit: 10.
        assert!(net.call(&v, "init").is_success());

        let receipt = net.call(&t, "start");
        assert!(receipt.is_success(), "{receipt:?}");
        let state: std::collections::BTreeMap<_, _> = net.state(&t).into_iter().collect();
        let last_reentry = u32::from_le_bytes(state[&b"s".to_vec()][..4].try_into().unwrap());
        let credit = i64::from_le_bytes(net.state(&v)[0].1[..8].try_into().unwrap());
        assert_eq!(credit, 0);
        if reentrant {
            // Every re-entry read the credit before it was lowered: three
            // payments of 10 against a credit of 10.
            assert_eq!(last_reentry, 0);
            assert_eq!(net.balance(v.as_str()), 70);
            assert_eq!(net.balance(t.as_str()), 30);
            assert_eq!(receipt.all_calls().len(), 6);
        } else {
            // The callback ran (the thief opted in), its re-entry into the
            // vault was refused: the vault paid the legitimate 10 only.
            assert_eq!(last_reentry, 2);
            assert_eq!(net.balance(v.as_str()), 90);
            assert_eq!(net.balance(t.as_str()), 10);
            let calls = receipt.all_calls();
            assert_eq!(calls.len(), 3);
            assert_eq!(calls[1].1.method, "on_payment");
            assert_eq!(calls[1].1.amount, 10);
            let refused = calls[2].1;
            assert_eq!(
                (refused.contract.as_str(), refused.method.as_str()),
                (v.as_str(), "withdraw")
            );
            assert!(
                matches!(&refused.outcome, CallOutcome::Refused { kind, .. } if kind == "reentrancy")
            );
        }
    }
}
