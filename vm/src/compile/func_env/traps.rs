//! Traps (`docs/vm.md`, "Traps: explicit checks"): the trap instructions
//! of the conditional checks, the shared cold blocks that end the call
//! with a trap instruction (with a bounded fan-in so that long bodies full
//! of branches to them stay cheap to compile), and the check after a
//! builtin call that ends the call when the builtin set a trap.

use cranelift_codegen::ir::types::I32;
use cranelift_codegen::ir::{self, Block, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

use super::{COUNTER_OFFSETS, FAN_IN, Translator, state_flags};
use crate::compile::PROPAGATE_TRAP;
use crate::vmctx::{TrapCode, runtime_offsets};

impl Translator<'_, '_> {
    // ---- blocks and traps ----------------------------------------------

    /// Creates a block, switches to it and seals it: for code whose only
    /// predecessor is the current block, so cached values stay valid.
    pub fn continue_in_new_block(&mut self) -> Block {
        let next = self.b.create_block();
        self.b.switch_to_block(next);
        self.b.seal_block(next);
        next
    }

    /// The shared cold block that takes a trap exit with `code`, for one
    /// more predecessor.
    pub fn trap_block(&mut self, code: TrapCode) -> Block {
        let slot = code as usize;
        let (block, closed) = Self::fan_in_block(&mut self.b, &mut self.trap_blocks[slot], true);
        if let Some(closed) = closed {
            self.closed_exits.push((slot, closed));
        }
        block
    }

    /// The block of `open` for one more predecessor: a new one when there
    /// is none or it has [`FAN_IN`] already (then the full one is
    /// returned second, to be emitted later). Dominator trees are built
    /// by walking from each predecessor of a block up to the dominator of
    /// those seen so far; one exit shared by the thousands of checks of a
    /// long straight-line body makes that walk, and compile time,
    /// quadratic in the body. With a bounded fan-in each walk stays within
    /// one group of checks.
    pub(in crate::compile) fn fan_in_block(
        b: &mut FunctionBuilder<'_>,
        open: &mut Option<(Block, u32)>,
        cold: bool,
    ) -> (Block, Option<Block>) {
        match open {
            Some((block, uses)) if *uses < FAN_IN => {
                *uses += 1;
                (*block, None)
            }
            _ => {
                let block = b.create_block();
                if cold {
                    b.set_cold_block(block);
                }
                let full = open.replace((block, 1)).map(|(full, _)| full);
                (block, full)
            }
        }
    }

    /// Makes sure `VMRuntime` holds `gas_left` before a check that may
    /// trap: stored here unless it already was, or was loaded, earlier in
    /// this straight run of code (`stack_left` is not read after a trap).
    /// A cold block per check that stores it instead would double the
    /// blocks of memory-heavy code, and with them its compile time.
    fn sync_gas_for_trap(&mut self) {
        if let Some([gas, _]) = self.counters {
            let value = self.b.use_var(gas);
            let now = self.b.current_block().map(|b| (b, value));
            if now.is_none() || self.gas_synced != now {
                let rt = self.rt();
                self.b
                    .ins()
                    .store(state_flags(), value, rt, COUNTER_OFFSETS[0]);
                self.gas_synced = now;
            }
        }
    }

    /// Makes the next access a faulting one (`docs/vm.md`, "Faulting
    /// loads"): a trap site of `memory_out_of_bounds` like a check, whose
    /// trap instruction is the access itself. Returns the trap code its
    /// flags carry, which makes Cranelift record it.
    ///
    /// Unlike a check it does not count towards [`RUN_PER_BLOCK`]: a
    /// load has no fixed registers or clobbers for a long block to make
    /// the register allocator split ranges around.
    pub(super) fn faulting_access_site(&mut self) -> ir::TrapCode {
        self.sync_gas_for_trap();
        trap_site_code(TrapCode::MemoryOutOfBounds)
    }

    /// Traps with `code` when `cond` is non-zero: a trap site (`docs/vm.md`,
    /// "Traps: explicit checks"), so the current block goes on.
    pub fn trap_if(&mut self, cond: Value, code: TrapCode) {
        self.trap_site(cond, code, true);
    }

    /// Branches on `cond` to a cold block of its own that traps with
    /// `code`, after storing the counters if `store_counters`; code goes
    /// on in a new block.
    pub(super) fn trap_in_cold_block_if(
        &mut self,
        cond: Value,
        code: TrapCode,
        store_counters: bool,
    ) {
        let next = self.b.create_block();
        let exit = self.b.create_block();
        self.b.set_cold_block(exit);
        self.b.ins().brif(cond, exit, &[], next, &[]);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
        if store_counters {
            self.store_counters();
        }
        self.b.ins().trap(trap_site_code(code));
        self.b.switch_to_block(next);
        self.b.seal_block(next);
    }

    /// Traps with `code` when `cond` is zero: a trap site.
    pub fn trap_unless(&mut self, cond: Value, code: TrapCode) {
        self.trap_site(cond, code, false);
    }

    /// A trap site taken when `cond` is non-zero (`when_set`) or zero.
    /// `VMRuntime` is made to hold `gas_left` first, except for
    /// `out_of_gas`, which reports the whole limit as used without reading
    /// it.
    fn trap_site(&mut self, cond: Value, code: TrapCode, when_set: bool) {
        if code != TrapCode::OutOfGas {
            self.sync_gas_for_trap();
        }
        let code = trap_site_code(code);
        if when_set {
            self.b.ins().trapnz(cond, code);
        } else {
            self.b.ins().trapz(cond, code);
        }
        self.count_trap_site();
    }

    /// Every [`RUN_PER_BLOCK`]th trap site of a function ends its block.
    fn count_trap_site(&mut self) {
        self.trap_sites += 1;
        if self.trap_sites.is_multiple_of(RUN_PER_BLOCK) {
            self.end_block();
        }
    }

    /// Ends the current block with a jump to a new one, its only
    /// successor, so `VMRuntime` still holds what it held.
    pub(super) fn end_block(&mut self) {
        let next = self.b.create_block();
        self.b.ins().jump(next, &[]);
        self.b.switch_to_block(next);
        self.b.seal_block(next);
        if let Some((_, value)) = self.gas_synced {
            self.gas_synced = Some((next, value));
        }
    }

    /// Takes a trap exit unconditionally (storing the counters first); the
    /// current block ends.
    pub fn trap_now(&mut self, code: TrapCode) {
        self.store_counters();
        let trap = self.trap_block(code);
        self.b.ins().jump(trap, &[]);
    }

    /// After a builtin call: end the call if the builtin set a trap (a
    /// trap site that leaves the code as it is), forget the cached memory
    /// descriptor (the builtin may have grown memory) and reload the
    /// counters.
    pub fn check_trap_after_call(&mut self) {
        let rt = self.rt();
        let code = self
            .b
            .ins()
            .load(I32, state_flags(), rt, runtime_offsets::TRAP_CODE);
        self.b.ins().trapnz(code, PROPAGATE_TRAP);
        self.forget_memory();
        self.load_counters();
    }

    /// After a Wasm call: a callee that trapped never returns, but it may
    /// have grown memory, so the cached descriptor goes.
    pub(super) fn forget_memory(&mut self) {
        self.mem_cache = None;
        self.mem_stale = self.mem_vars.is_some();
    }

    /// Emits the trap-exit blocks that were used: each ends the call
    /// with a trap instruction of its code, after the counters were stored
    /// on the way (by the branch to it).
    pub fn emit_trap_blocks(&mut self) {
        let open = self
            .trap_blocks
            .into_iter()
            .enumerate()
            .filter_map(|(slot, open)| open.map(|(block, _)| (slot, block)));
        let exits: Vec<_> = open.chain(std::mem::take(&mut self.closed_exits)).collect();
        for (slot, block) in exits {
            self.b.switch_to_block(block);
            self.b.seal_block(block);
            // The slot is the exit's trap code (`trap_block` indexes by it).
            self.b.ins().trap(ir::TrapCode::unwrap_user(slot as u8));
        }
    }
}

/// Trap sites, or native calls, after which straight code ends its block
/// (a `jump` to the next). A value live across thousands of calls or
/// divisions in one block makes the register allocator split its range
/// around each call's clobbers or each division's fixed registers, with
/// work that grows with the range left: quadratic (`live_across_calls`
/// and `live_div_u` of the adversarial corpus). A boundary every few
/// keeps each split local; when every check and call was followed by a
/// branch, those branches did it.
pub(super) const RUN_PER_BLOCK: u64 = 16;

/// The Cranelift trap code of a trap site that traps with `code`: the same
/// number, which the handler stores as it is.
pub(super) fn trap_site_code(code: TrapCode) -> ir::TrapCode {
    ir::TrapCode::unwrap_user(code as u8)
}
