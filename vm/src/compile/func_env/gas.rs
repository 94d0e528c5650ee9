//! The instrumentation counters, `gas_left` and `stack_left`: where they
//! live, the fused lowering of a charge, the deferred exhaustion checks
//! and the counters a function returns. In one place because deferring a
//! charge is sound only together with the tests that catch it and the
//! floor on a returned counter (`docs/vm.md`, "Deferred exhaustion
//! checks").

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{InstBuilder, Value};

use super::{COUNTER_OFFSETS, LOOP_HEAD_CAPACITY, Translator, state_flags};
use crate::vmctx::TrapCode;

/// The largest gas charge that may be deferred; larger ones check.
const DEFERRED_AMOUNT_MAX: u64 = 1 << 32;

/// The most gas one function's deferred charges may sum to, and the floor
/// of a returned counter. A call starts with at most 2^62 (`docs/gas.md`
/// §5.6), every function tests the counter at its entry, and a caller's
/// untested charges after a call add at most this to the floor, so the
/// counter stays in `[-2^57, 2^62]` and signed comparisons of it are
/// exact.
pub(super) const DEFERRED_BUDGET: u64 = 1 << 56;

/// `amount` as the bound of a signed comparison with `gas_left`, which
/// never exceeds 2^62: an amount beyond `i64::MAX` cannot be paid either.
fn signed_bound(amount: u64) -> i64 {
    i64::try_from(amount).unwrap_or(i64::MAX)
}

impl Translator<'_, '_> {
    /// Makes `VMRuntime` hold the counter variables: before every builtin
    /// call and at the `out_of_gas` and `stack_overflow` exits.
    pub fn store_counters(&mut self) {
        let Some(vars) = self.counters else { return };
        for (var, off) in vars.into_iter().zip(COUNTER_OFFSETS) {
            let v = self.b.use_var(var);
            let rt = self.rt();
            self.b.ins().store(state_flags(), v, rt, off);
        }
    }

    /// Gives counter `slot` (0: gas, 1: stack) a new value.
    pub(super) fn set_counter(&mut self, slot: usize, value: Value) {
        let Some(vars) = self.counters else { return };
        self.b.def_var(vars[slot], value);
    }

    /// `old - amount` as one two-result instruction the optimiser does
    /// not fold (see [`Self::fused_charge`]), whose borrow is an
    /// `out_of_gas` trap site.
    fn opaque_sub(&mut self, old: Value, amount: u64) -> Value {
        // Cranelift's riscv64 backend does not lower `usub_overflow`
        // ("should be implemented in ISLE"). There the subtraction is an
        // `uadd_overflow` of `-amount` instead, just as opaque: for a
        // non-zero amount it carries exactly when `old >= amount`, when
        // there is no borrow. A zero amount never borrows.
        if cfg!(target_arch = "riscv64") {
            if amount == 0 {
                return old;
            }
            let neg = self.b.ins().iconst(I64, (amount as i64).wrapping_neg());
            let (new, carry) = self.b.ins().uadd_overflow(old, neg);
            self.trap_unless(carry, TrapCode::OutOfGas);
            return new;
        }
        let c = self.b.ins().iconst(I64, amount as i64);
        let (new, borrow) = self.b.ins().usub_overflow(old, c);
        self.trap_if(borrow, TrapCode::OutOfGas);
        new
    }

    /// The fused lowering of a counter charge (`docs/gas.md` §5.1, and the
    /// frame check of §5.3): `global.get g; i64.const c; i64.lt_u; if; call
    /// t; end; global.get g; i64.const c; i64.sub; global.set g` for the
    /// counter `g` (0: gas, 1: stack) whose trap `t` is `trap`. `head`: the
    /// charge opens the function or a loop body, where `gas_left` is tested
    /// (`docs/vm.md`, "Deferred exhaustion checks"); the frame check does
    /// it in the same branch.
    ///
    /// With the counters in variables a gas charge is deferred, a bare
    /// subtraction, unless it must check. A checking charge compares,
    /// branches when short to a cold block that traps with `out_of_gas`
    /// (storing nothing, as an `out_of_gas` never reads the counter) and
    /// then subtracts. But the
    /// result of a charge that opens a loop body (`loop_head`) is the value
    /// carried around the back edge, and if the next charge consumed it as
    /// such, Cranelift's optimiser would fold the two into one subtraction
    /// from the loop header's value (`(old - c1) - c2` into
    /// `old - (c1 + c2)`), keeping both values live across the back edge at
    /// the cost of a register copy in every iteration. That next charge
    /// therefore checks, and is made opaque to the optimiser: one
    /// two-result `usub_overflow`, whose borrow traps (exact, as the value
    /// it consumes was tested, so it is not negative).
    /// Elsewhere the folding saves work and is left alone.
    pub fn fused_charge(
        &mut self,
        counter: usize,
        amount: u64,
        trap: TrapCode,
        loop_head: bool,
        head: bool,
    ) {
        let Some(vars) = self.counters else {
            // Counters in `VMRuntime`: it already holds the value before the
            // charge when the check branches to the exit. Every gas charge
            // checks.
            let off = COUNTER_OFFSETS[counter];
            let rt = self.rt();
            let old = self.b.ins().load(I64, state_flags(), rt, off);
            let short = self.charge_short(counter, old, amount, head);
            self.trap_if(short, trap);
            let new = self.b.ins().iadd_imm_s(old, (amount as i64).wrapping_neg());
            let rt = self.rt();
            self.b.ins().store(state_flags(), new, rt, off);
            if counter == 0 {
                self.gas_unchecked = false;
            }
            return;
        };
        let var = vars[counter];
        let old = self.b.use_var(var);
        let after_loop_head = self.loop_head_charges.contains(&old);
        if counter == 0
            && !head
            && !after_loop_head
            && amount <= DEFERRED_AMOUNT_MAX
            && self.deferred_total + amount <= DEFERRED_BUDGET
        {
            self.deferred_total += amount;
            // A plain subtraction (an opaque `usub_overflow` compiled a
            // little faster but ran slower: its unused borrow became a
            // `setb` per charge). A run of deferred charges subtracts
            // their sum from the value the run started from, which is the
            // form Cranelift's optimiser would rewrite the chain into
            // anyway, one rewrite per charge (2% of a metered compile,
            // for the same machine code).
            let (base, pending) = match self.deferred_chain {
                Some((last, base, pending)) if last == old => (base, pending),
                _ => (old, 0),
            };
            let total = pending + amount;
            let new = self.b.ins().iadd_imm_s(base, -(total as i64));
            self.deferred_chain = Some((new, base, total));
            self.set_counter(0, new);
            self.gas_unchecked = true;
            return;
        }
        let opaque = counter == 0 && after_loop_head;
        let new = if opaque {
            self.opaque_sub(old, amount)
        } else {
            let c = self.b.ins().iconst(I64, amount as i64);
            let short = self.charge_short(counter, old, amount, head);
            // A branch to a cold block of its own that traps. A gas charge
            // stores nothing there (`out_of_gas` reads no counter); the
            // frame check, at the function's entry, stores both, as a
            // `stack_overflow` reports the exact gas used. Not a trap site:
            // a checking gas charge opens nearly every loop body, and with
            // the check inside the header's block `sort` and `matmul` ran
            // 32% and 8% longer (metered, wall-clock, on the benchmark
            // machine) while executing 3% fewer instructions; with the
            // branch they run as before, for 0.5% more compile work.
            self.trap_in_cold_block_if(short, trap, counter != 0);
            self.b.ins().isub(old, c)
        };
        self.set_counter(counter, new);
        if loop_head && !opaque {
            if self.loop_head_charges.len() == LOOP_HEAD_CAPACITY {
                self.loop_head_charges.remove(0);
            }
            self.loop_head_charges.push(new);
        }
        if counter == 0 {
            self.gas_unchecked = false;
        }
    }

    /// Whether counter `counter`, at `old`, is short of `amount`: signed for
    /// gas, which a caller's deferred charges may have left negative. The
    /// frame check at a function's entry (`head`) tests `gas_left` too: a
    /// negative one (sign bits all ones) clears the stack counter
    /// compared, and any frame (> 0) is more than 0.
    fn charge_short(&mut self, counter: usize, old: Value, amount: u64, head: bool) -> Value {
        if counter == 0 {
            return self
                .b
                .ins()
                .icmp_imm_s(IntCC::SignedLessThan, old, signed_bound(amount));
        }
        let compared = if head && std::mem::take(&mut self.gas_unchecked) {
            let gas = self.gas_counter();
            let sign = self.b.ins().sshr_imm_u(gas, 63);
            self.b.ins().band_not(old, sign)
        } else {
            old
        };
        self.b
            .ins()
            .icmp_imm_u(IntCC::UnsignedLessThan, compared, amount as i64)
    }

    /// `gas_left < 0`, if a deferred charge may have run since it was last
    /// tested on this path (else `None`); the caller branches to a trap
    /// exit on it, so from here on it counts as tested.
    pub(super) fn gas_negative(&mut self) -> Option<Value> {
        if !self.gas_unchecked {
            return None;
        }
        self.gas_unchecked = false;
        let gas = self.gas_counter();
        Some(self.b.ins().icmp_imm_s(IntCC::SignedLessThan, gas, 0))
    }

    /// `gas_left` as it is, tested or not.
    pub fn gas_counter(&mut self) -> Value {
        match self.counters {
            Some(vars) => self.b.use_var(vars[0]),
            None => {
                let rt = self.rt();
                self.b
                    .ins()
                    .load(I64, state_flags(), rt, COUNTER_OFFSETS[0])
            }
        }
    }

    /// A check point (`docs/vm.md`, "Deferred exhaustion checks"): takes
    /// the `out_of_gas` exit if `gas_left` is negative, unless it was
    /// tested since the last deferred charge on this path.
    pub fn check_gas(&mut self) {
        if let Some(negative) = self.gas_negative() {
            self.trap_if(negative, TrapCode::OutOfGas);
        }
    }

    /// Control flow may join here: a deferred charge may have run on some
    /// path in.
    pub fn gas_join(&mut self) {
        if self.counters.is_some() {
            self.gas_unchecked = true;
        }
    }

    /// After a Wasm call returned: the callee may hand back a negative
    /// counter (see [`Self::return_with_counters`]).
    pub(super) fn gas_returned_by_callee(&mut self) {
        if self.m.instrumented {
            self.gas_unchecked = true;
        }
    }

    /// `gas_left` is known to be non-negative here (a prepaid loop's copy
    /// starts from what its test before it found): no check point needs
    /// to test it until the next deferred charge or join.
    pub fn gas_known_covered(&mut self) {
        self.gas_unchecked = false;
    }

    /// Whether the counters are kept in variables (an instrumented module).
    pub fn has_counters(&self) -> bool {
        self.counters.is_some()
    }

    /// Reloads the counter variables from `VMRuntime`: after every builtin
    /// call (which may have changed them; Wasm callees return them).
    pub(super) fn load_counters(&mut self) {
        let Some(vars) = self.counters else { return };
        let here = self.b.current_block();
        for (slot, (var, off)) in vars.into_iter().zip(COUNTER_OFFSETS).enumerate() {
            let rt = self.rt();
            let v = self.b.ins().load(I64, state_flags(), rt, off);
            self.b.def_var(var, v);
            if slot == 0 {
                self.gas_synced = here.map(|b| (b, v));
            }
        }
    }

    /// Returns `results` and, in an instrumented module, the counters after
    /// them.
    pub fn return_with_counters(&mut self, results: &[Value]) {
        // Not a check point: an untested counter goes back as it is, but
        // never below `-DEFERRED_BUDGET`, so the callers' own deferred
        // charges cannot make it wrap however deep the stack. Below it a
        // charge has failed, so the call ends here with `out_of_gas`: a
        // trap site, not a branch to a block that raises the counter
        // (two blocks per return), nor a test to zero (which is what the
        // callee's entry does anyway) or an `smax` (which put a compare
        // and a conditional move on the counter's path through every
        // call: matmul metered 657 µs against 613 µs).
        if self.gas_unchecked
            && let Some(vars) = self.counters
        {
            let gas = self.b.use_var(vars[0]);
            let floor = -(DEFERRED_BUDGET as i64);
            let low = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, gas, floor);
            self.trap_if(low, TrapCode::OutOfGas);
        }
        let mut all = Vec::with_capacity(results.len() + 2);
        all.extend_from_slice(results);
        all.extend(self.outgoing_counters());
        self.b.ins().return_(&all);
    }
}
