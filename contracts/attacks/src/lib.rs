//! The classic attacks on contracts that call each other, and what the
//! host's rules (`docs/host-api.md`, "Cross-contract calls",
//! "Reentrancy"; `docs/gas.md` §9) make of them. One code plays every
//! role: deploy it twice, one instance as the victim and one as the
//! attacker. The crate does **not** export `__detvm_reentrant`, so
//! neither instance can be entered while it is already on the call stack.
//!
//! | role | methods |
//! | --- | --- |
//! | vault | `deposit`, `withdraw`, `deposited` |
//! | attacker | `attack`, `on_payment`, `last_reentry` |
//! | depth bomb | `bomb` |
//! | gas griefing | `burn` (victim's callee), `grief` (the caller that survives) |
//! | huge return | `huge` (callee), `fetch_huge` (caller) |
//!
//! **Vault.** `withdraw(amount)` pays by calling the caller's
//! `on_payment` with `amount` attached, *before* lowering the caller's
//! credit: the classic reentrancy bug. It only lowers the credit when the
//! payment call returned (a payment that did not happen was undone with
//! its frame, tokens included).
//!
//! **Attacker.** `attack(vault, amount)` (with `amount` attached) deposits
//! into the vault and withdraws it; its `on_payment` tries to withdraw
//! again while the vault is still in `withdraw`. Between two instances of
//! this code the attack never gets that far: the vault's payment call
//! back into the attacker is itself a re-entry (the attacker is the
//! frame below the vault), so it is refused with status 2, `reentrancy`.
//! The vault then keeps both the tokens and the attacker's credit. A
//! contract that wants payment callbacks must opt in with the marker, and
//! then, against this vault, its re-entry into `withdraw` is refused in
//! turn (the vault has no marker): the vault loses exactly the legitimate
//! withdrawal. `host/tests/calls.rs` plays that attacker in WAT, and a
//! vault with the marker, which is drained: the rule is what protects.
//!
//! **Depth bomb.** `bomb(peer, depth)` asks `peer` to bomb back. Between
//! two instances the ping-pong A → B → A is refused at its third frame
//! (`reentrancy`), long before the depth limit; a reentrant bomb
//! (WAT, in `host/tests/calls.rs`) stops at frame 16 with the host trap
//! "call depth limit".
//!
//! **Gas griefing.** `grief(victim, gas)` calls `victim.burn`, an endless
//! loop, with at most `gas`: the callee runs out, the caller pays exactly
//! that bound and carries on.
//!
//! **Huge return.** `huge(len)` returns `len` bytes (at most
//! `max_return_len`, 1 MiB); `fetch_huge(peer, len)` receives them and
//! pays `register_write_per_byte` for each.

#![no_std]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::hint::black_box;

use detvm_sdk::{abort, encode, env, methods, register, require, storage, sys};

/// The register a nested call's result comes back in.
const CALL_REGISTER: u64 = 7;

/// Calls `method` of `contract` and returns the status (0 returned, 1
/// trapped, 2 refused) and the register: the return bytes, the trap or
/// why it was refused.
fn call(contract: &str, method: &str, args: &[u8], amount: u128, gas: u64) -> (u32, Vec<u8>) {
    let status = call_status(contract, method, args, amount, gas);
    (status, register::read(CALL_REGISTER).unwrap_or_default())
}

/// [`call`] without copying the result out of its register.
fn call_status(contract: &str, method: &str, args: &[u8], amount: u128, gas: u64) -> u32 {
    let amount = amount.to_le_bytes();
    // SAFETY: the host only reads these ranges, all live slices.
    unsafe {
        sys::call_contract(
            contract.as_ptr() as u32,
            contract.len() as u32,
            method.as_ptr() as u32,
            method.len() as u32,
            args.as_ptr() as u32,
            args.len() as u32,
            amount.as_ptr() as u32,
            gas,
            CALL_REGISTER,
        )
    }
}

/// The register as text, for reporting a trap or a refusal.
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).to_string()
}

fn credit_key(account: &str) -> Vec<u8> {
    storage::key(b"credit/", account.as_bytes())
}

fn credit(account: &str) -> u128 {
    storage::read(&credit_key(account)).unwrap_or(0)
}

methods! {
    // ---- vault ---------------------------------------------------------

    /// Credits the attached tokens to the caller; returns the new credit.
    fn deposit() -> u128 {
        let caller = env::caller();
        let Some(total) = credit(&caller).checked_add(env::attached_amount()) else {
            abort("vault: credit overflow")
        };
        storage::write(&credit_key(&caller), &total);
        total
    }

    /// Pays `amount` of the caller's credit back through its
    /// `on_payment`, then lowers the credit: the order is the bug.
    /// Returns the payment call's status.
    fn withdraw(amount: u128) -> u32 {
        let caller = env::caller();
        require(credit(&caller) >= amount, "vault: credit too low");
        let (status, why) = call(&caller, "on_payment", &[], amount, u64::MAX);
        if status == 0 {
            // Read again: a nested withdraw may have changed it.
            let Some(left) = credit(&caller).checked_sub(amount) else {
                abort("vault: credit underflow")
            };
            storage::write(&credit_key(&caller), &left);
        } else {
            env::log(&text(why));
        }
        status
    }

    /// What `account` may withdraw.
    fn deposited(account: String) -> u128 {
        credit(&account)
    }

    // ---- attacker ------------------------------------------------------

    /// Deposits the attached `amount` into `vault` and withdraws it, with
    /// `on_payment` primed to withdraw again. Returns the statuses of the
    /// deposit and of the withdraw call, and the withdraw's register.
    fn attack(vault: String, amount: u128) -> (u32, u32, Vec<u8>) {
        require(env::attached_amount() >= amount, "attack: attach the amount");
        storage::write(b"target", &vault);
        storage::write(b"amount", &amount);
        let (deposited, _) = call(&vault, "deposit", &[], amount, u64::MAX);
        let (withdrawn, out) = call(&vault, "withdraw", &encode(&(amount,)), 0, u64::MAX);
        (deposited, withdrawn, out)
    }

    /// The vault's payment: tries to withdraw once more and records how
    /// that went (status, register as text).
    fn on_payment() {
        let (Some(vault), Some(amount)) = (
            storage::read::<String>(b"target"),
            storage::read::<u128>(b"amount"),
        ) else {
            return;
        };
        let (status, why) = call(&vault, "withdraw", &encode(&(amount,)), 0, u64::MAX);
        storage::write(b"reentry", &(status, text(why)));
    }

    /// How the last re-entry attempt of `on_payment` ended.
    fn last_reentry() -> Option<(u32, String)> {
        storage::read(b"reentry")
    }

    // ---- depth bomb -----------------------------------------------------

    /// Records `depth`, then asks `peer` to bomb back with `depth + 1`.
    /// Returns the status and register of that call.
    fn bomb(peer: String, depth: u32) -> (u32, String) {
        storage::write(&storage::key(b"bomb/", &depth.to_be_bytes()), &true);
        let me = env::current_contract();
        let (status, out) = call(&peer, "bomb", &encode(&(me, depth + 1)), 0, u64::MAX);
        (status, text(out))
    }

    // ---- gas griefing ---------------------------------------------------

    /// Never returns: burns whatever gas it is given.
    fn burn() {
        let mut i: u64 = 0;
        loop {
            i = black_box(i.wrapping_add(1));
        }
    }

    /// Calls `victim.burn` with at most `gas`, then records that it is
    /// still running. Returns the call's status and register.
    fn grief(victim: String, gas: u64) -> (u32, String) {
        let (status, out) = call(&victim, "burn", &[], 0, gas);
        storage::write(b"survived", &true);
        (status, text(out))
    }

    // ---- huge return ----------------------------------------------------

    /// Returns `len` zero bytes, raw.
    fn huge(len: u32) {
        detvm_sdk::return_bytes(&vec![0u8; len as usize]);
    }

    /// Calls `peer.huge(len)`; returns the status and how many bytes came
    /// back. It never copies them out of the register, so what it pays
    /// for them is the host's per-byte fee alone.
    fn fetch_huge(peer: String, len: u32) -> (u32, u64) {
        let status = call_status(&peer, "huge", &encode(&(len,)), 0, u64::MAX);
        let received = register::len(CALL_REGISTER).unwrap_or(0);
        (status, received as u64)
    }
}
