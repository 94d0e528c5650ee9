//! Trap exits: the shared cold blocks that store a trap code and return,
//! with a bounded fan-in so that long bodies full of checks stay cheap to
//! compile, and the check after a call that propagates a callee's trap.

use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{Block, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

use super::{COUNTER_OFFSETS, FAN_IN, Translator, state_flags};
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
            self.closed_exits.push((Some(slot), closed));
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

    /// The target of a conditional branch to the trap exit `code`: the
    /// shared trap block, after making sure `VMRuntime` holds `gas_left`
    /// (stored here unless it already was, or was loaded, earlier in this
    /// straight run of code; `stack_left` is not read after a trap). A
    /// cold block per check that stores it instead would double the blocks
    /// of memory-heavy code, and with them its compile time. The shared
    /// blocks take no arguments: with thousands of checks, arguments on
    /// them would make register allocation superlinear.
    fn trap_target(&mut self, code: TrapCode) -> Block {
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
        self.trap_block(code)
    }

    /// Continues in `next`, the only successor of the current block other
    /// than a trap exit: what `VMRuntime` held still holds.
    fn continue_after_check(&mut self, next: Block) {
        self.b.switch_to_block(next);
        self.b.seal_block(next);
        if let Some((_, value)) = self.gas_synced {
            self.gas_synced = Some((next, value));
        }
    }

    /// Traps with `code` when `cond` is non-zero; continues in a new block.
    pub fn trap_if(&mut self, cond: Value, code: TrapCode) {
        let trap = self.trap_target(code);
        let next = self.b.create_block();
        self.b.ins().brif(cond, trap, &[], next, &[]);
        self.continue_after_check(next);
    }

    /// Traps with `code` when `cond` is zero; continues in a new block.
    pub fn trap_unless(&mut self, cond: Value, code: TrapCode) {
        let trap = self.trap_target(code);
        let next = self.b.create_block();
        self.b.ins().brif(cond, next, &[], trap, &[]);
        self.continue_after_check(next);
    }

    /// Takes a trap exit unconditionally (storing the counters first); the
    /// current block ends.
    pub fn trap_now(&mut self, code: TrapCode) {
        self.store_counters();
        let trap = self.trap_block(code);
        self.b.ins().jump(trap, &[]);
    }

    /// After a builtin call: propagate a pending trap by returning,
    /// forget the cached memory descriptor (the callee may have grown
    /// memory) and reload the counters.
    pub fn check_trap_after_call(&mut self) {
        self.branch_on_trap();
        self.load_counters();
    }

    /// Propagates a pending trap by returning, and forgets the cached memory
    /// descriptor (the callee may have grown memory).
    pub(super) fn branch_on_trap(&mut self) {
        let rt = self.rt();
        let code = self
            .b
            .ins()
            .load(I32, state_flags(), rt, runtime_offsets::TRAP_CODE);
        let (propagate, closed) = Self::fan_in_block(&mut self.b, &mut self.propagate_block, true);
        if let Some(closed) = closed {
            self.closed_exits.push((None, closed));
        }
        let next = self.b.create_block();
        self.b.ins().brif(code, propagate, &[], next, &[]);
        self.b.switch_to_block(next);
        self.b.seal_block(next);
        self.mem_cache = None;
        self.mem_stale = self.mem_vars.is_some();
    }

    /// Emits the trap-exit blocks that were used: store the code (unless
    /// only propagating) and return zeros. The counters were stored on the
    /// way (by the trap site, or by the trapping callee); at the native
    /// stack check in the prologue they are still as loaded.
    pub fn emit_trap_blocks(&mut self) {
        self.emit_gas_exits();
        let open = self
            .trap_blocks
            .into_iter()
            .enumerate()
            .filter_map(|(slot, open)| open.map(|(block, _)| (Some(slot), block)));
        let propagate = self.propagate_block.map(|(block, _)| (None, block));
        let exits: Vec<_> = open
            .chain(propagate)
            .chain(std::mem::take(&mut self.closed_exits))
            .collect();
        for (slot, block) in exits {
            self.b.switch_to_block(block);
            self.b.seal_block(block);
            if let Some(slot) = slot {
                let code = self.b.ins().iconst(I32, slot as i64);
                let rt = self.rt();
                self.b
                    .ins()
                    .store(state_flags(), code, rt, runtime_offsets::TRAP_CODE);
            }
            self.return_zeros();
        }
    }

    /// Returns from a trap exit: zero results (and zero counters, which no
    /// caller uses after a trap).
    fn return_zeros(&mut self) {
        let mut zeros = Vec::with_capacity(self.results.len() + 2);
        for i in 0..self.results.len() {
            let ty = self.results[i];
            zeros.push(self.zero(ty));
        }
        if self.m.instrumented {
            let zero = self.b.ins().iconst(I64, 0);
            zeros.extend([zero, zero]);
        }
        self.b.ins().return_(&zeros);
    }
}
