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
    Account, CallContext, CallNode, CallOutcome, Chain, ContractId, Error, Event, MemoryStorage,
    Receipt, ReceiptOutcome, Storage, TrapKind, account_key, decode_account,
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

/// Gas of `with` minus gas of `base`, and `with`'s receipt.
fn delta(net: &mut Net, id: &ContractId) -> (u64, Receipt) {
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
