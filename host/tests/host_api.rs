//! Every host function: results, exact gas per `docs/host-api.md`, bounds,
//! limits and registers. Gas is measured as the difference between a
//! method with the host call and the same method without it, so the
//! expected value is the instructions' schedule cost plus the documented
//! host fee, both computed from the published tables.

mod common;

use common::*;
use detvm_host::{Chain, ContractId, Receipt, TrapKind};
use sha2::{Digest, Sha256};

/// A contract with methods `base` (= `setup`) and `with` (= `setup` then
/// `snippet`), plus `items`.
struct Probe {
    chain: Chain,
    id: ContractId,
    /// Committed state right after the last `base` run.
    base_state: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Probe {
    fn new(pages: u32, items: &str, setup: &str, snippet: &str) -> Self {
        let code = contract(
            pages,
            &format!(
                "{items} {} {}",
                method("base", setup),
                method("with", &format!("{setup} {snippet}"))
            ),
        );
        let (chain, id) = deployed(&code);
        Self {
            chain,
            id,
            base_state: Vec::new(),
        }
    }

    fn run(&mut self, name: &str, args: &[u8]) -> Receipt {
        call(&mut self.chain, &self.id, name, args)
    }

    /// Gas of `with` minus gas of `base`, and `with`'s receipt.
    ///
    /// `base` runs once first so that both measured runs find the storage
    /// `setup` leaves behind: a write that replaces a value pays for the old
    /// one, so a fresh write in one run and an overwrite in the other would
    /// skew the difference.
    fn delta(&mut self, args: &[u8]) -> (u64, Receipt) {
        assert!(self.run("base", args).is_success());
        let base = self.run("base", args);
        assert!(base.is_success(), "{base:?}");
        self.base_state = self.chain.state(&self.id, b"").unwrap();
        let with = self.run("with", args);
        (with.gas_used - base.gas_used, with)
    }
}

const W: &str = "(drop (call $storage_write (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 1) (i64.const 9)))";

#[test]
fn input_copies_the_arguments_and_charges_per_byte() {
    let echo = "(call $input (i64.const 0)) \
                (call $read_register (i64.const 0) (i32.const 0)) \
                (call $value_return (i32.const 0) (i32.wrap_i64 (call $register_len (i64.const 0))))";
    let (mut chain, id) = deployed(&contract(1, &method("echo", echo)));
    let receipt = call(&mut chain, &id, "echo", b"hello world");
    assert_eq!(returned(&receipt), b"hello world");

    let mut probe = Probe::new(1, "", "", "(call $input (i64.const 0))");
    let f = fees();
    for args in [&b""[..], b"abc", &[7u8; 1000]] {
        let (gas, _) = probe.delta(args);
        assert_eq!(
            gas,
            consts(1)
                + call_cost()
                + f.host_call_base
                + f.register_write_per_byte * args.len() as u64
        );
    }
}

#[test]
fn register_len_is_minus_one_when_unset_and_charges_the_base_fee() {
    let body = "(i64.store (i32.const 0) (call $register_len (i64.const 5))) \
                (call $input (i64.const 5)) \
                (i64.store (i32.const 8) (call $register_len (i64.const 5))) \
                (call $value_return (i32.const 0) (i32.const 16))";
    let (mut chain, id) = deployed(&contract(1, &method("lens", body)));
    let out = returned(&call(&mut chain, &id, "lens", b"four")).to_vec();
    assert_eq!(i64::from_le_bytes(out[..8].try_into().unwrap()), -1);
    assert_eq!(i64::from_le_bytes(out[8..].try_into().unwrap()), 4);

    let mut probe = Probe::new(1, "", "", "(drop (call $register_len (i64.const 0)))");
    let (gas, _) = probe.delta(b"");
    assert_eq!(
        gas,
        consts(1) + call_cost() + drop_cost() + fees().host_call_base
    );
}

#[test]
fn read_register_charges_per_byte_and_traps_on_unset_or_out_of_bounds() {
    let f = fees();
    let mut probe = Probe::new(
        1,
        "",
        "(call $input (i64.const 0))",
        "(call $read_register (i64.const 0) (i32.const 100))",
    );
    let (gas, _) = probe.delta(&[1; 300]);
    assert_eq!(
        gas,
        consts(2) + call_cost() + f.host_call_base + f.memory_write_per_byte * 300
    );

    // Unset register: a `host` trap naming the function.
    let mut probe = Probe::new(
        1,
        "",
        W,
        "(call $read_register (i64.const 3) (i32.const 0))",
    );
    let (gas, receipt) = probe.delta(b"");
    let (kind, message) = trapped(&receipt);
    assert_eq!(kind, TrapKind::Host);
    let message = message.unwrap();
    assert!(
        message.contains("read_register") && message.contains("not set"),
        "{message}"
    );
    assert_eq!(gas, consts(2) + call_cost() + f.host_call_base);
    assert!(probe_state_is_base(&mut probe));

    // The register's length must fit at `ptr`: 10 bytes at 65530 of a
    // 65536-byte memory do not.
    let mut probe = Probe::new(
        1,
        "",
        &format!("{W} (call $input (i64.const 0))"),
        "(call $read_register (i64.const 0) (i32.const 65530))",
    );
    let (gas, receipt) = probe.delta(&[0; 10]);
    assert_eq!(trapped(&receipt).0, TrapKind::MemoryOutOfBounds);
    assert_eq!(gas, consts(2) + call_cost() + f.host_call_base);
}

/// After `base` ran (it may have written), the state is exactly what `base`
/// committed: `with` trapped and changed nothing.
fn probe_state_is_base(probe: &mut Probe) -> bool {
    assert!(
        !probe.base_state.is_empty(),
        "base wrote something to compare with"
    );
    probe.chain.state(&probe.id, b"").unwrap() == probe.base_state
}

#[test]
fn value_return_sets_the_result_last_call_wins() {
    let items = data(0, "first") + &data(8, "second");
    let body = "(call $value_return (i32.const 0) (i32.const 5)) \
                (call $value_return (i32.const 8) (i32.const 6))";
    let (mut chain, id) = deployed(&contract(1, &(items.clone() + &method("m", body))));
    assert_eq!(returned(&call(&mut chain, &id, "m", b"")), b"second");

    // No value_return: empty bytes.
    let (mut chain, id) = deployed(&contract(1, &method("m", "")));
    assert_eq!(returned(&call(&mut chain, &id, "m", b"")), b"");

    let f = fees();
    let mut probe = Probe::new(
        1,
        &items,
        "",
        "(call $value_return (i32.const 0) (i32.const 200))",
    );
    let (gas, receipt) = probe.delta(b"");
    assert_eq!(returned(&receipt).len(), 200);
    assert_eq!(
        gas,
        consts(2) + call_cost() + f.host_call_base + f.memory_read_per_byte * 200
    );
}

#[test]
fn log_utf8_appends_lines_and_charges_per_byte() {
    let items = data(0, "hello") + &data(8, "world!");
    let body =
        "(call $log_utf8 (i32.const 0) (i32.const 5)) (call $log_utf8 (i32.const 8) (i32.const 6))";
    let (mut chain, id) = deployed(&contract(1, &(items.clone() + &method("m", body))));
    let receipt = call(&mut chain, &id, "m", b"");
    assert!(receipt.is_success());
    assert_eq!(
        receipt.logs,
        vec!["hello".to_string(), "world!".to_string()]
    );

    let f = fees();
    let mut probe = Probe::new(
        1,
        &items,
        "",
        "(call $log_utf8 (i32.const 0) (i32.const 5))",
    );
    let (gas, _) = probe.delta(b"");
    assert_eq!(
        gas,
        consts(2) + call_cost() + f.host_call_base + (f.memory_read_per_byte + f.log_per_byte) * 5
    );

    // Invalid UTF-8 traps `host`, after the fees were charged.
    let mut probe = Probe::new(
        1,
        &data(0, "\\ff\\fe"),
        W,
        "(call $log_utf8 (i32.const 0) (i32.const 2))",
    );
    let (gas, receipt) = probe.delta(b"");
    let (kind, message) = trapped(&receipt);
    assert_eq!(kind, TrapKind::Host);
    assert!(message.unwrap().contains("log_utf8"));
    assert_eq!(
        gas,
        consts(2) + call_cost() + f.host_call_base + (f.memory_read_per_byte + f.log_per_byte) * 2
    );
    assert!(probe_state_is_base(&mut probe));
}

#[test]
fn log_limits_trap_host_before_reading() {
    let f = fees();
    // One log longer than all logs may be together.
    let too_long = f.max_log_bytes + 1;
    let mut probe = Probe::new(
        1,
        "",
        W,
        &format!("(call $log_utf8 (i32.const 0) (i32.const {too_long}))"),
    );
    let (gas, receipt) = probe.delta(b"");
    let (kind, message) = trapped(&receipt);
    assert_eq!(kind, TrapKind::Host);
    assert!(message.unwrap().contains("log_utf8"));
    assert_eq!(gas, consts(2) + call_cost() + f.host_call_base);
    assert!(probe_state_is_base(&mut probe));

    // Exactly the byte limit in one line is fine (zero bytes are UTF-8).
    let ok = f.max_log_bytes;
    let mut probe = Probe::new(
        1,
        "",
        "",
        &format!("(call $log_utf8 (i32.const 0) (i32.const {ok}))"),
    );
    let (_, receipt) = probe.delta(b"");
    assert!(receipt.is_success(), "{receipt:?}");

    // One line more than `max_logs`.
    let logs = |n: u64| {
        format!(
            "(loop $l (call $log_utf8 (i32.const 0) (i32.const 1)) \
             (local.set $i (i32.add (local.get $i) (i32.const 1))) \
             (br_if $l (i32.lt_u (local.get $i) (i32.const {n}))))"
        )
    };
    let code = contract(
        1,
        &(method("max", &format!("(local $i i32) {}", logs(f.max_logs)))
            + &method(
                "over",
                &format!("(local $i i32) {W} {}", logs(f.max_logs + 1)),
            )),
    );
    let (mut chain, id) = deployed(&code);
    assert_eq!(
        call(&mut chain, &id, "max", b"").logs.len() as u64,
        f.max_logs
    );
    let receipt = call(&mut chain, &id, "over", b"");
    let (kind, message) = trapped(&receipt);
    assert_eq!(kind, TrapKind::Host);
    assert!(message.unwrap().contains("log_utf8"));
    assert_eq!(receipt.logs.len() as u64, f.max_logs);
    assert!(chain.state(&id, b"").unwrap().is_empty());
}

#[test]
fn panic_utf8_traps_with_the_message_and_keeps_no_state() {
    let f = fees();
    let mut probe = Probe::new(
        1,
        &data(100, "bad input"),
        W,
        "(call $panic_utf8 (i32.const 100) (i32.const 9))",
    );
    let (gas, receipt) = probe.delta(b"");
    let (kind, message) = trapped(&receipt);
    assert_eq!(kind, TrapKind::Host);
    assert_eq!(message.as_deref(), Some("bad input"));
    assert_eq!(
        gas,
        consts(2) + call_cost() + f.host_call_base + f.memory_read_per_byte * 9
    );
    assert!(probe_state_is_base(&mut probe));

    // Lossy UTF-8, truncated to max_log_bytes.
    let long = f.max_log_bytes + 100;
    let items = data(0, "\\ff") + &data(1, &"x".repeat(long as usize));
    let code = contract(
        1,
        &(items
            + &method(
                "m",
                &format!("(call $panic_utf8 (i32.const 0) (i32.const {long}))"),
            )),
    );
    let (mut chain, id) = deployed(&code);
    let (_, message) = trapped(&call(&mut chain, &id, "m", b""));
    let message = message.unwrap();
    assert!(message.starts_with('\u{fffd}'));
    assert_eq!(message.len() as u64, 3 + (f.max_log_bytes - 1));
}

#[test]
fn storage_write_read_remove_has_key_round_trip() {
    // Keys at 0 ("k"), values at 16; registers returned as `flag ++ bytes`.
    let items = data(0, "k") + &data(16, "value-1") + &data(32, "v2");
    let write2 = "(i32.store8 (i32.const 200) (call $storage_write (i32.const 0) (i32.const 1) (i32.const 32) (i32.const 2) (i64.const 1))) \
                  (call $read_register (i64.const 1) (i32.const 201)) \
                  (call $value_return (i32.const 200) (i32.wrap_i64 (i64.add (i64.const 1) (call $register_len (i64.const 1)))))";
    let code = contract(
        1,
        &(items
            + &method(
                "write1",
                "(i32.store8 (i32.const 200) (call $storage_write (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 7) (i64.const 1))) (call $value_return (i32.const 200) (i32.const 1))",
            )
            + &method("write2", write2)
            + &method(
                "read",
                "(i32.store8 (i32.const 200) (call $storage_read (i32.const 0) (i32.const 1) (i64.const 2))) (call $read_register (i64.const 2) (i32.const 201)) (call $value_return (i32.const 200) (i32.wrap_i64 (i64.add (i64.const 1) (call $register_len (i64.const 2)))))",
            )
            + &method(
                "read_missing",
                "(i32.store8 (i32.const 200) (call $storage_read (i32.const 0) (i32.const 1) (i64.const 2))) (i64.store (i32.const 201) (call $register_len (i64.const 2))) (call $value_return (i32.const 200) (i32.const 9))",
            )
            + &method(
                "has",
                "(i32.store8 (i32.const 200) (call $storage_has_key (i32.const 0) (i32.const 1))) (call $value_return (i32.const 200) (i32.const 1))",
            )
            + &method(
                "remove",
                "(i32.store8 (i32.const 200) (call $storage_remove (i32.const 0) (i32.const 1) (i64.const 3))) (call $read_register (i64.const 3) (i32.const 201)) (call $value_return (i32.const 200) (i32.const 3))",
            )
            + &method(
                "remove_missing",
                "(i32.store8 (i32.const 200) (call $storage_remove (i32.const 0) (i32.const 1) (i64.const 3))) (call $value_return (i32.const 200) (i32.const 1))",
            )),
    );
    let (mut chain, id) = deployed(&code);
    assert_eq!(returned(&call(&mut chain, &id, "has", b"")), [0]);
    let missing = call(&mut chain, &id, "read_missing", b"");
    assert_eq!(returned(&missing)[0], 0);
    assert_eq!(
        i64::from_le_bytes(returned(&missing)[1..].try_into().unwrap()),
        -1
    );

    let first = call(&mut chain, &id, "write1", b"");
    assert_eq!(returned(&first), [0]);
    assert_eq!(
        first.state_changes,
        vec![(b"k".to_vec(), Some(b"value-1".to_vec()))]
    );
    assert_eq!(
        chain.state(&id, b"").unwrap(),
        vec![(b"k".to_vec(), b"value-1".to_vec())]
    );
    assert_eq!(returned(&call(&mut chain, &id, "has", b"")), [1]);
    assert_eq!(
        returned(&call(&mut chain, &id, "read", b"")),
        b"\x01value-1"
    );

    // Overwriting returns the old value.
    assert_eq!(
        returned(&call(&mut chain, &id, "write2", b"")),
        b"\x01value-1"
    );
    assert_eq!(returned(&call(&mut chain, &id, "read", b"")), b"\x01v2");

    let removed = call(&mut chain, &id, "remove", b"");
    assert_eq!(returned(&removed), b"\x01v2");
    assert_eq!(removed.state_changes, vec![(b"k".to_vec(), None)]);
    assert!(chain.state(&id, b"").unwrap().is_empty());
    assert_eq!(returned(&call(&mut chain, &id, "remove_missing", b"")), [0]);
    assert_eq!(returned(&call(&mut chain, &id, "has", b"")), [0]);
}

#[test]
fn a_call_sees_its_own_writes_and_lists_changes_in_key_order() {
    let items = data(0, "b") + &data(1, "a") + &data(2, "c") + &data(16, "xyz");
    let body = "(drop (call $storage_write (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 1) (i64.const 0))) \
                (drop (call $storage_write (i32.const 2) (i32.const 1) (i32.const 17) (i32.const 1) (i64.const 0))) \
                (drop (call $storage_write (i32.const 1) (i32.const 1) (i32.const 18) (i32.const 1) (i64.const 0))) \
                (drop (call $storage_remove (i32.const 2) (i32.const 1) (i64.const 0))) \
                (drop (call $storage_read (i32.const 0) (i32.const 1) (i64.const 4))) \
                (call $read_register (i64.const 4) (i32.const 100)) \
                (call $value_return (i32.const 100) (i32.const 1))";
    let (mut chain, id) = deployed(&contract(1, &(items + &method("m", body))));
    let receipt = call(&mut chain, &id, "m", b"");
    assert_eq!(returned(&receipt), b"x");
    assert_eq!(
        receipt.state_changes,
        vec![
            (b"a".to_vec(), Some(b"z".to_vec())),
            (b"b".to_vec(), Some(b"x".to_vec())),
            (b"c".to_vec(), None),
        ]
    );
    assert_eq!(
        chain.state(&id, b"").unwrap(),
        vec![
            (b"a".to_vec(), b"z".to_vec()),
            (b"b".to_vec(), b"x".to_vec())
        ]
    );
}

#[test]
fn storage_gas_follows_the_formulas() {
    let f = fees();
    let (key, value) = (3u64, 11u64);
    let items = data(0, "key") + &data(16, "eleven-byte");
    let write = "(drop (call $storage_write (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 11) (i64.const 1)))";
    let mut probe = Probe::new(1, &items, "", write);
    let (gas, receipt) = probe.delta(b"");
    assert!(receipt.is_success());
    let write_fee = f.host_call_base
        + f.memory_read_per_byte * (key + value)
        + f.storage_write_base
        + f.storage_write_key_byte * key
        + f.storage_write_value_byte * value;
    assert_eq!(gas, consts(5) + call_cost() + drop_cost() + write_fee);
    // Overwriting also pays for the old value it hands back in the register.
    let (gas, _) = probe.delta(b"");
    assert_eq!(
        gas,
        consts(5) + call_cost() + drop_cost() + write_fee + f.storage_read_value_byte * value
    );

    // Reads of a present key pay per value byte; of a missing one, not.
    let read = "(drop (call $storage_read (i32.const 0) (i32.const 3) (i64.const 1)))";
    let items_read = items.clone() + &method("prepare", write);
    let mut probe = Probe::new(1, &items_read, "", read);
    let read_fee = f.host_call_base
        + f.memory_read_per_byte * key
        + f.storage_read_base
        + f.storage_read_key_byte * key;
    let (gas, _) = probe.delta(b"");
    assert_eq!(gas, consts(3) + call_cost() + drop_cost() + read_fee);
    assert!(probe.run("prepare", b"").is_success());
    let (gas, _) = probe.delta(b"");
    assert_eq!(
        gas,
        consts(3) + call_cost() + drop_cost() + read_fee + f.storage_read_value_byte * value
    );

    let has = "(drop (call $storage_has_key (i32.const 0) (i32.const 3)))";
    let mut probe = Probe::new(1, &items_read, "", has);
    assert!(probe.run("prepare", b"").is_success());
    let (gas, _) = probe.delta(b"");
    assert_eq!(gas, consts(2) + call_cost() + drop_cost() + read_fee);

    let remove = "(drop (call $storage_remove (i32.const 0) (i32.const 3) (i64.const 1)))";
    let mut probe = Probe::new(1, &items_read, "", remove);
    assert!(probe.run("prepare", b"").is_success());
    let (gas, receipt) = probe.delta(b"");
    assert_eq!(receipt.state_changes, vec![(b"key".to_vec(), None)]);
    let remove_fee = f.host_call_base
        + f.memory_read_per_byte * key
        + f.storage_write_base
        + f.storage_write_key_byte * key;
    // The removed value comes back in the register and is paid per byte.
    assert_eq!(
        gas,
        consts(3) + call_cost() + drop_cost() + remove_fee + f.storage_read_value_byte * value
    );
}

#[test]
fn storage_fees_are_charged_in_full_before_the_write() {
    let f = fees();
    let items = data(0, "key") + &data(16, "eleven-byte");
    let write = "(drop (call $storage_write (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 11) (i64.const 1)))";
    let code = contract(1, &(items + &method("base", "") + &method("with", write)));
    let (mut chain, id) = deployed(&code);
    let base = call(&mut chain, &id, "base", b"").gas_used;
    let fee = f.host_call_base
        + f.memory_read_per_byte * 14
        + f.storage_write_base
        + f.storage_write_key_byte * 3
        + f.storage_write_value_byte * 11;
    let exact = base + consts(5) + call_cost() + drop_cost() + fee;

    let short = chain
        .call(&id, "with", b"", &ctx_with_gas(exact - 1))
        .unwrap();
    assert_eq!(trapped(&short).0, TrapKind::OutOfGas);
    assert_eq!(short.gas_used, exact - 1);
    assert!(chain.state(&id, b"").unwrap().is_empty());

    let enough = chain.call(&id, "with", b"", &ctx_with_gas(exact)).unwrap();
    assert!(enough.is_success(), "{enough:?}");
    assert_eq!(enough.gas_used, exact);
    assert_eq!(chain.state(&id, b"").unwrap().len(), 1);
}

#[test]
fn storage_limits_trap_host_before_reading_memory() {
    let f = fees();
    let big_key = f.max_key_len + 1;
    let big_value = f.max_value_len + 1;
    // 66 pages hold a value one byte over 4 MiB.
    let pages = 66;
    let cases = [
        (
            "storage_write",
            format!(
                "(drop (call $storage_write (i32.const 0) (i32.const {big_key}) (i32.const 0) (i32.const 1) (i64.const 0)))"
            ),
            5,
            true,
        ),
        (
            "storage_write",
            format!(
                "(drop (call $storage_write (i32.const 0) (i32.const 1) (i32.const 0) (i32.const {big_value}) (i64.const 0)))"
            ),
            5,
            true,
        ),
        (
            "storage_read",
            format!(
                "(drop (call $storage_read (i32.const 0) (i32.const {big_key}) (i64.const 0)))"
            ),
            3,
            true,
        ),
        (
            "storage_remove",
            format!(
                "(drop (call $storage_remove (i32.const 0) (i32.const {big_key}) (i64.const 0)))"
            ),
            3,
            true,
        ),
        (
            "storage_has_key",
            format!("(drop (call $storage_has_key (i32.const 0) (i32.const {big_key})))"),
            2,
            true,
        ),
    ];
    for (name, snippet, constants, drops) in cases {
        let mut probe = Probe::new(pages, "", W, &snippet);
        let (gas, receipt) = probe.delta(b"");
        let (kind, message) = trapped(&receipt);
        assert_eq!(kind, TrapKind::Host, "{name}");
        let message = message.unwrap();
        assert!(
            message.starts_with(name) && message.contains("at most"),
            "{message}"
        );
        assert_eq!(
            gas,
            consts(constants)
                + call_cost()
                + if drops { drop_cost() } else { 0 }
                + f.host_call_base,
            "{name}"
        );
        assert!(probe_state_is_base(&mut probe), "{name}");
    }

    // Exactly at the limits is accepted.
    let ok = format!(
        "(drop (call $storage_write (i32.const 0) (i32.const {}) (i32.const 0) (i32.const {}) (i64.const 0)))",
        f.max_key_len, f.max_value_len
    );
    let (mut chain, id) = deployed(&contract(pages, &method("m", &ok)));
    let receipt = chain
        .call(&id, "m", b"", &ctx_with_gas(1_000_000_000))
        .unwrap();
    assert!(receipt.is_success(), "{receipt:?}");
    assert_eq!(receipt.state_changes[0].0.len() as u64, f.max_key_len);
    assert_eq!(
        receipt.state_changes[0].1.as_ref().unwrap().len() as u64,
        f.max_value_len
    );
}

#[test]
fn value_return_over_the_limit_traps_host() {
    let f = fees();
    let over = f.max_return_len + 1;
    let pages = over / 65536 + 1;
    let mut probe = Probe::new(
        pages as u32,
        "",
        W,
        &format!("(call $value_return (i32.const 0) (i32.const {over}))"),
    );
    let (gas, receipt) = probe.delta(b"");
    let (kind, message) = trapped(&receipt);
    assert_eq!(kind, TrapKind::Host);
    assert!(message.unwrap().starts_with("value_return"));
    assert_eq!(gas, consts(2) + call_cost() + f.host_call_base);
    assert!(probe_state_is_base(&mut probe));
}

#[test]
fn out_of_bounds_pointers_trap_without_state_change() {
    let f = fees();
    // 1 page = 65536 bytes; every pair below ends past it.
    let cases = [
        (
            "value_return",
            "(call $value_return (i32.const 65530) (i32.const 7))",
            2,
            false,
        ),
        (
            "value_return",
            "(call $value_return (i32.const 0) (i32.const -1))",
            2,
            false,
        ),
        (
            "log_utf8",
            "(call $log_utf8 (i32.const -16) (i32.const 1))",
            2,
            false,
        ),
        (
            "panic_utf8",
            "(call $panic_utf8 (i32.const 65536) (i32.const 1))",
            2,
            false,
        ),
        (
            "storage_write key",
            "(drop (call $storage_write (i32.const 65535) (i32.const 2) (i32.const 0) (i32.const 1) (i64.const 0)))",
            5,
            true,
        ),
        (
            "storage_write value",
            "(drop (call $storage_write (i32.const 0) (i32.const 1) (i32.const 65000) (i32.const 600) (i64.const 0)))",
            5,
            true,
        ),
        (
            "storage_read",
            "(drop (call $storage_read (i32.const -1) (i32.const 1) (i64.const 0)))",
            3,
            true,
        ),
        (
            "storage_remove",
            "(drop (call $storage_remove (i32.const 65536) (i32.const 1) (i64.const 0)))",
            3,
            true,
        ),
        (
            "storage_has_key",
            "(drop (call $storage_has_key (i32.const 70000) (i32.const 0)))",
            2,
            true,
        ),
        (
            "sha256",
            "(call $sha256 (i32.const 1) (i32.const 65536) (i64.const 0))",
            3,
            false,
        ),
    ];
    for (name, snippet, constants, drops) in cases {
        let mut probe = Probe::new(1, "", W, snippet);
        let (gas, receipt) = probe.delta(b"");
        assert_eq!(trapped(&receipt).0, TrapKind::MemoryOutOfBounds, "{name}");
        assert_eq!(
            gas,
            consts(constants)
                + call_cost()
                + if drops { drop_cost() } else { 0 }
                + f.host_call_base,
            "{name}"
        );
        assert!(probe_state_is_base(&mut probe), "{name}");
    }
}

#[test]
fn a_contract_without_memory_gets_out_of_bounds_not_a_crash() {
    let text = format!(
        "(module {IMPORTS} (func (export \"m\") (call $value_return (i32.const 0) (i32.const 1))) \
         (func (export \"empty\") (call $value_return (i32.const 0) (i32.const 0))))"
    );
    let (mut chain, id) = deployed(&wat::parse_str(text).unwrap());
    assert_eq!(
        trapped(&call(&mut chain, &id, "m", b"")).0,
        TrapKind::MemoryOutOfBounds
    );
    assert_eq!(returned(&call(&mut chain, &id, "empty", b"")), b"");
}

#[test]
fn context_functions_return_what_the_caller_fixed() {
    let body = "(i64.store (i32.const 0) (call $block_height)) \
                (i64.store (i32.const 8) (call $block_timestamp)) \
                (call $caller (i64.const 1)) \
                (call $read_register (i64.const 1) (i32.const 16)) \
                (call $current_contract (i64.const 2)) \
                (call $read_register (i64.const 2) (i32.const 100)) \
                (call $value_return (i32.const 0) (i32.const 140))";
    let (mut chain, id) = deployed(&contract(1, &method("m", body)));
    let mut context = ctx();
    context.caller = "bob.near".into();
    context.block_height = 123_456;
    context.block_timestamp = u64::MAX - 5;
    let receipt = chain.call(&id, "m", b"", &context).unwrap();
    let out = returned(&receipt);
    assert_eq!(u64::from_le_bytes(out[..8].try_into().unwrap()), 123_456);
    assert_eq!(
        u64::from_le_bytes(out[8..16].try_into().unwrap()),
        u64::MAX - 5
    );
    assert_eq!(&out[16..24], b"bob.near");
    assert_eq!(&out[100..140], id.as_str().as_bytes());
}

#[test]
fn context_function_gas() {
    let f = fees();
    let cases: [(&str, u64); 4] = [
        (
            "(drop (call $block_height))",
            call_cost() + drop_cost() + f.host_call_base,
        ),
        (
            "(drop (call $block_timestamp))",
            call_cost() + drop_cost() + f.host_call_base,
        ),
        (
            "(call $caller (i64.const 0))",
            consts(1)
                + call_cost()
                + f.host_call_base
                + f.register_write_per_byte * "alice".len() as u64,
        ),
        (
            "(call $current_contract (i64.const 0))",
            consts(1)
                + call_cost()
                + f.host_call_base
                + f.register_write_per_byte * ContractId::LEN as u64,
        ),
    ];
    for (snippet, expected) in cases {
        let mut probe = Probe::new(1, "", "", snippet);
        assert_eq!(probe.delta(b"").0, expected, "{snippet}");
    }
}

#[test]
fn sha256_hashes_into_a_register() {
    let body = "(call $input (i64.const 0)) \
                (call $read_register (i64.const 0) (i32.const 0)) \
                (call $sha256 (i32.const 0) (i32.wrap_i64 (call $register_len (i64.const 0))) (i64.const 0)) \
                (call $read_register (i64.const 0) (i32.const 1000)) \
                (call $value_return (i32.const 1000) (i32.wrap_i64 (call $register_len (i64.const 0))))";
    let (mut chain, id) = deployed(&contract(1, &method("m", body)));
    for input in [&b""[..], b"abc", &[0x5a; 4000]] {
        let receipt = call(&mut chain, &id, "m", input);
        assert_eq!(returned(&receipt), Sha256::digest(input).as_slice());
    }

    let f = fees();
    let mut probe = Probe::new(
        1,
        "",
        "",
        "(call $sha256 (i32.const 0) (i32.const 777) (i64.const 3))",
    );
    assert_eq!(
        probe.delta(b"").0,
        consts(3)
            + call_cost()
            + f.host_call_base
            + f.memory_read_per_byte * 777
            + f.sha256_base
            + f.sha256_per_byte * 777
    );
}

#[test]
fn register_caps_trap_host() {
    let f = fees();
    let fill = |n: u64| {
        format!(
            "(local.set $i (i64.const 0)) (loop $l (call $input (local.get $i)) \
             (local.set $i (i64.add (local.get $i) (i64.const 1))) \
             (br_if $l (i64.lt_u (local.get $i) (i64.const {n}))))"
        )
    };
    let code = contract(
        1,
        &(method("max", &format!("(local $i i64) {}", fill(f.max_registers)))
            + &method(
                "over",
                &format!("(local $i i64) {W} {}", fill(f.max_registers + 1)),
            )
            + &method(
                "reuse",
                &format!(
                    "(local $i i64) {} {}",
                    fill(f.max_registers),
                    fill(f.max_registers)
                ),
            )),
    );
    let (mut chain, id) = deployed(&code);
    assert!(call(&mut chain, &id, "max", b"x").is_success());
    assert!(call(&mut chain, &id, "reuse", b"x").is_success());
    let (kind, message) = trapped(&call(&mut chain, &id, "over", b"x"));
    assert_eq!(kind, TrapKind::Host);
    assert!(message.unwrap().contains("registers"));
    assert!(chain.state(&id, b"").unwrap().is_empty());
}

#[test]
fn host_call_out_of_gas_reports_the_whole_limit() {
    // The base fee alone does not fit.
    let code = contract(
        1,
        &(method("base", W) + &method("with", &format!("{W} (drop (call $block_height))"))),
    );
    let (mut chain, id) = deployed(&code);
    let base = call(&mut chain, &id, "base", b"").gas_used;
    let limit = base + call_cost() + drop_cost() + fees().host_call_base - 1;
    let receipt = chain.call(&id, "with", b"", &ctx_with_gas(limit)).unwrap();
    assert_eq!(trapped(&receipt).0, TrapKind::OutOfGas);
    assert_eq!(receipt.gas_used, limit);
    let ok = chain
        .call(&id, "with", b"", &ctx_with_gas(limit + 1))
        .unwrap();
    assert_eq!(ok.gas_used, limit + 1);
}

#[test]
fn register_byte_cap_counts_live_bytes_only() {
    let f = fees();
    let regs_of_max_input = f.max_register_bytes / f.max_input_len;
    let fill = |n: u64, same: bool| {
        let reg = if same {
            "(i64.const 0)"
        } else {
            "(local.get $i)"
        };
        format!(
            "(local $i i64) (loop $l (call $input {reg}) \
             (local.set $i (i64.add (local.get $i) (i64.const 1))) \
             (br_if $l (i64.lt_u (local.get $i) (i64.const {n}))))"
        )
    };
    let code = contract(
        1,
        &(method("fits", &fill(regs_of_max_input, false))
            + &method("over", &fill(regs_of_max_input + 1, false))
            + &method("overwrite", &fill(regs_of_max_input * 3, true))),
    );
    let (mut chain, id) = deployed(&code);
    let input = vec![1u8; f.max_input_len as usize];
    let gas = ctx_with_gas(1_000_000_000);
    assert!(chain.call(&id, "fits", &input, &gas).unwrap().is_success());
    assert!(
        chain
            .call(&id, "overwrite", &input, &gas)
            .unwrap()
            .is_success()
    );
    let receipt = chain.call(&id, "over", &input, &gas).unwrap();
    let (kind, message) = trapped(&receipt);
    assert_eq!(kind, TrapKind::Host);
    let message = message.unwrap();
    assert!(
        message.starts_with("input") && message.contains("registers"),
        "{message}"
    );
}
