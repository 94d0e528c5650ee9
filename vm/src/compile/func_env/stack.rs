//! The operand stack and the locals: where each value lives under either
//! strategy, the NaN class it carries, and the label values that cross
//! control-flow edges (settled, moved to and loaded from their positions).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::types::{F32, F64, I32, I64};
use cranelift_codegen::ir::{
    self, InstBuilder, MemFlagsData, StackSlot, StackSlotData, StackSlotKind, Value,
};

use super::nan::{self, Nan};
use super::{Local, PTR, Translator};
use crate::compile::{CompileError, IndexSpace};

impl Translator<'_, '_> {
    // ---- locals --------------------------------------------------------

    /// Declares the next local, of type `ty`, holding `init`.
    pub fn declare_local(&mut self, ty: ir::Type, init: Value) {
        let local = if self.slots {
            let slot = self.new_slot();
            self.b.ins().stack_store(PTR, init, slot, 0);
            Local::Slot(slot, ty)
        } else {
            let var = self.b.declare_var(ty);
            self.b.def_var(var, init);
            Local::Var(var, ty)
        };
        self.locals.push(local);
        self.locals_touched.push(false);
        self.held.push(None);
    }

    /// Where in `held_locals` the loop opening at `self.offset` is, if it
    /// holds any local (never with the slot strategy).
    fn held_here(&self) -> Option<usize> {
        if self.slots {
            return None;
        }
        self.held_locals
            .binary_search_by_key(&self.offset, |&(o, _)| o)
            .ok()
    }

    /// The locals the loop opening at `self.offset` never writes.
    fn locals_held_here(&self) -> &[u32] {
        self.held_here().map_or(&[], |i| &self.held_locals[i].1)
    }

    /// At a loop's entry (before the jump to its header): the locals the
    /// loop at `self.offset` never writes are read as their value here
    /// until the loop's `end`; those that held a pending value before
    /// [`Self::settle_for_label`] canonicalised it at this entry are read
    /// as that pending value. Returns the locals this loop holds, for
    /// [`Self::release_held`]; an enclosing loop may hold others already.
    pub fn hold_loop_locals(&mut self) -> Vec<u32> {
        let entry_pending = match self.entry_pending.take() {
            Some((at, values)) if at == self.offset => values,
            _ => Vec::new(),
        };
        let Some(at) = self.held_here() else {
            return Vec::new();
        };
        // Put back below: a proven loop is translated twice from the same
        // offset.
        let locals = std::mem::take(&mut self.held_locals[at].1);
        let mut held = Vec::with_capacity(locals.len());
        for &index in &locals {
            let i = index as usize;
            if let Some(&Local::Var(var, _)) = self.locals.get(i)
                && self.held[i].is_none()
            {
                let value = match entry_pending.iter().find(|&&(l, _)| l == index) {
                    Some(&(_, pending)) => (pending, Nan::Pending),
                    None => (self.b.use_var(var), self.label_class(index)),
                };
                self.held[i] = Some(value);
                held.push(index);
            }
        }
        self.held_locals[at].1 = locals;
        held
    }

    /// At a loop's `end`: its held locals are read through the variable
    /// again.
    pub fn release_held(&mut self, locals: &[u32]) {
        for &index in locals {
            self.held[index as usize] = None;
        }
    }

    fn local(&mut self, index: u32) -> Result<Local, CompileError> {
        let i = index as usize;
        let local = *self
            .locals
            .get(i)
            .ok_or_else(|| self.unknown(IndexSpace::Local, index))?;
        if !self.locals_touched[i] {
            self.locals_touched[i] = true;
            self.touched += 1;
        }
        Ok(local)
    }

    /// Sets the NaN classes of the locals (`nan::LocalWrites`), one per
    /// declared local.
    pub fn set_local_classes(&mut self, classes: Vec<Nan>) -> Result<(), CompileError> {
        if classes.len() != self.locals.len() {
            return Err(self.invariant("NaN classes do not match the locals"));
        }
        self.local_pending = vec![false; classes.len()];
        self.pending_locals.clear();
        self.local_nan = classes;
        Ok(())
    }

    /// The NaN class local `index` has at every label: its class for the
    /// whole body.
    fn label_class(&self, index: u32) -> Nan {
        match self.locals.get(index as usize) {
            Some(Local::Var(_, ty) | Local::Slot(_, ty)) if !nan::is_float(*ty) => Nan::Canonical,
            _ => self
                .local_nan
                .get(index as usize)
                .copied()
                .unwrap_or(Nan::Kept),
        }
    }

    /// The NaN class of what local `index` holds here.
    pub fn local_class(&self, index: u32) -> Nan {
        let i = index as usize;
        if let Some(Some((_, class))) = self.held.get(i) {
            *class
        } else if self.local_pending.get(i) == Some(&true) {
            Nan::Pending
        } else {
            self.label_class(index)
        }
    }

    /// `local.get`: pushes the current value of local `index`.
    pub fn op_local_get(&mut self, index: u32) -> Result<(), CompileError> {
        let v = self.local_get(index)?;
        let class = self.local_class(index);
        self.push_nan(v, class);
        Ok(())
    }

    /// `local.set` (`tee`: `local.tee`): writes the top operand to local
    /// `index`. A pending value written to a local that keeps bits is
    /// not canonicalised here: the local holds it as pending until the next
    /// control operator, which canonicalises it only if it is still there
    /// ([`Self::settle_for_label`]).
    pub fn op_local_set(&mut self, index: u32, tee: bool) -> Result<(), CompileError> {
        let depth = self.stack_height_below(1)?;
        let class = self.label_class(index);
        let have = self.nan[depth];
        let pending_in_kept = have == Nan::Pending && class == Nan::Kept;
        if have > class && !pending_in_kept {
            // `nan::LocalWrites` follows every operator that the
            // translator does, so this is a bug, not a property of the
            // module.
            return Err(self.invariant("a value written to a local of a lower NaN class"));
        }
        if let Some(flag) = self.local_pending.get_mut(index as usize) {
            if pending_in_kept && !*flag {
                self.pending_locals.push(index);
            }
            *flag = pending_in_kept;
        }
        let v = if tee {
            self.operand(depth)
        } else {
            self.pop()?
        };
        self.local_set(index, v)
    }

    /// Brings the state that crosses control-flow edges to what every label
    /// expects, before a control operator (or a loop header the walk opens
    /// itself): each kept local that holds a pending value is canonicalised
    /// (`docs/vm.md`, "Floats"), and stale memory variables are reloaded
    /// ("Memory and tables"). In unreachable code nothing is emitted and
    /// the marks are dropped: the code that made them reaches no label.
    pub fn settle_for_label(&mut self) -> Result<(), CompileError> {
        if self
            .entry_pending
            .as_ref()
            .is_some_and(|&(at, _)| at != self.offset)
        {
            self.entry_pending = None;
        }
        while let Some(index) = self.pending_locals.pop() {
            let marked = std::mem::replace(&mut self.local_pending[index as usize], false);
            if marked && self.reachable {
                let v = self.local_get(index)?;
                let c = self.canonicalize(v);
                self.local_set(index, c)?;
                // A loop opening here that never writes the local reads it
                // as `v` (pending): the canonical value is what leaves the
                // loop, and costs nothing where nothing after it reads it.
                if self.locals_held_here().contains(&index) {
                    let offset = self.offset;
                    let (_, values) = self
                        .entry_pending
                        .get_or_insert_with(|| (offset, Vec::new()));
                    values.push((index, v));
                }
            }
        }
        if self.mem_stale {
            if self.reachable {
                self.reload_memory_vars();
            } else {
                self.mem_stale = false;
            }
        }
        self.gas_join();
        Ok(())
    }

    /// The current value of local `index`.
    pub fn local_get(&mut self, index: u32) -> Result<Value, CompileError> {
        Ok(match self.local(index)? {
            Local::Var(var, _) => match self.held[index as usize] {
                Some((value, _)) => value,
                None => self.b.use_var(var),
            },
            Local::Slot(slot, ty) => self.b.ins().stack_load(PTR, ty, slot, 0),
        })
    }

    /// Sets local `index` to `value`.
    pub fn local_set(&mut self, index: u32, value: Value) -> Result<(), CompileError> {
        match self.local(index)? {
            Local::Var(..) if self.held[index as usize].is_some() => {
                return Err(self.invariant("a write to a local its loop holds"));
            }
            Local::Var(var, _) => self.b.def_var(var, value),
            Local::Slot(slot, _) => {
                self.b.ins().stack_store(PTR, value, slot, 0);
            }
        }
        Ok(())
    }

    /// A fresh 8-byte stack slot (slot strategy).
    fn new_slot(&mut self) -> StackSlot {
        self.b
            .create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3))
    }

    // ---- operand stack -------------------------------------------------

    /// Number of values on the operand stack.
    pub fn stack_len(&self) -> usize {
        self.stack.len()
    }

    /// Drops operands down to `height`.
    pub fn truncate_stack(&mut self, height: usize) {
        self.stack.truncate(height);
        self.nan.truncate(height);
    }

    /// Pushes one integer or reference operand (with the slot strategy:
    /// stores it to its position's slot). Floats go through
    /// [`Self::push_nan`]: their class cannot be guessed.
    pub fn push(&mut self, v: Value) {
        debug_assert!(
            !nan::is_float(self.b.func.dfg.value_type(v)),
            "float pushed without its NaN class"
        );
        self.push_nan(v, Nan::Canonical);
    }

    /// Pushes one operand of NaN class `class`.
    pub fn push_nan(&mut self, v: Value, class: Nan) {
        if self.slots {
            let slot = self.operand_slot(self.stack.len());
            self.b.ins().stack_store(PTR, v, slot, 0);
        }
        self.stack.push(v);
        self.nan.push(self.class_for(v, class));
    }

    /// `class` for a float `v`; integers and references are canonical.
    fn class_for(&self, v: Value, class: Nan) -> Nan {
        if nan::is_float(self.b.func.dfg.value_type(v)) {
            class
        } else {
            Nan::Canonical
        }
    }

    /// The NaN class of the operand `n` below the top (0: the top).
    pub fn nan_below_top(&self, n: usize) -> Nan {
        self.nan
            .len()
            .checked_sub(n + 1)
            .map_or(Nan::Canonical, |depth| self.nan[depth])
    }

    /// The NaN classes of the top `n` operands, in push order.
    pub fn top_classes(&self, n: usize) -> Vec<Nan> {
        self.nan[self.nan.len().saturating_sub(n)..].to_vec()
    }

    /// `v` with a NaN replaced by the canonical NaN of its type.
    pub fn canonicalize(&mut self, v: Value) -> Value {
        // The canonical NaN is built from its integer bits, not written as
        // a float constant: Cranelift rematerialises float constants in
        // every block that uses them, so a canonicalisation inside a loop
        // rebuilt the NaN (two instructions on x86-64) on every iteration.
        // A bitcast is an ordinary pure value, computed once where it
        // dominates its uses and hoisted out of loops like any other.
        let canonical = if self.b.func.dfg.value_type(v) == F32 {
            let bits = self.b.ins().iconst(I32, i64::from(nan::CANONICAL_F32));
            self.b.ins().bitcast(F32, MemFlagsData::new(), bits)
        } else {
            let bits = self.b.ins().iconst(I64, nan::CANONICAL_F64 as i64);
            self.b.ins().bitcast(F64, MemFlagsData::new(), bits)
        };
        let is_nan = self.b.ins().fcmp(FloatCC::Unordered, v, v);
        self.b.ins().select(is_nan, canonical, v)
    }

    /// Canonicalises the operand at `depth` (from the bottom) in place if
    /// it is pending: where its bits are about to be observed or mixed
    /// with bits that must be kept (`docs/vm.md`, "Floats").
    pub fn settle(&mut self, depth: usize) {
        if self.nan[depth] != Nan::Pending {
            return;
        }
        let v = self.operand(depth);
        let c = self.canonicalize(v);
        if self.slots {
            let slot = self.operand_slots[depth];
            self.b.ins().stack_store(PTR, c, slot, 0);
        }
        self.stack[depth] = c;
        self.nan[depth] = Nan::Canonical;
    }

    /// [`Self::settle`] for each of the top `n` operands.
    pub fn settle_top(&mut self, n: usize) -> Result<(), CompileError> {
        let from = self.stack_height_below(n)?;
        for depth in from..from + n {
            self.settle(depth);
        }
        Ok(())
    }

    /// Whether label values travel through the operand slots (the slot
    /// strategy) rather than as block arguments.
    pub fn labels_in_slots(&self) -> bool {
        self.slots
    }

    /// The slot of operand position `depth`, created if no operand has
    /// been there yet.
    fn operand_slot(&mut self, depth: usize) -> StackSlot {
        while self.operand_slots.len() <= depth {
            let slot = self.new_slot();
            self.operand_slots.push(slot);
        }
        self.operand_slots[depth]
    }

    /// Slot strategy: copies the top `n` operands to positions
    /// `height..height + n`, where a label's values live. Each source
    /// position is at or above its destination, so copying upwards never
    /// overwrites a source still to be read.
    pub fn move_to_label(&mut self, height: usize, n: usize) -> Result<(), CompileError> {
        let from = self.stack_height_below(n)?;
        if from == height {
            return Ok(());
        }
        for i in 0..n {
            let v = self.operand(from + i);
            let slot = self.operand_slot(height + i);
            self.b.ins().stack_store(PTR, v, slot, 0);
        }
        Ok(())
    }

    /// Slot strategy: the values of a label whose positions start at
    /// `height`, loaded here.
    pub fn load_label(&mut self, height: usize, types: &[ir::Type]) -> Vec<Value> {
        types
            .iter()
            .enumerate()
            .map(|(i, &ty)| {
                let slot = self.operand_slot(height + i);
                self.b.ins().stack_load(PTR, ty, slot, 0)
            })
            .collect()
    }

    /// Slot strategy: makes `values`, just loaded from the positions
    /// above the current top, the top operands without storing them
    /// again.
    pub fn push_loaded(&mut self, values: &[Value], classes: &[Nan]) {
        for (&v, &class) in values.iter().zip(classes) {
            self.stack.push(v);
            self.nan.push(self.class_for(v, class));
        }
    }

    /// The operand stack height below the top `n` operands.
    pub fn stack_height_below(&self, n: usize) -> Result<usize, CompileError> {
        self.stack
            .len()
            .checked_sub(n)
            .ok_or_else(|| self.malformed("operand stack underflow"))
    }

    /// Pushes operands in order, of NaN classes `classes`.
    pub fn push_all(&mut self, values: &[Value], classes: &[Nan]) {
        for (&v, &class) in values.iter().zip(classes) {
            self.push_nan(v, class);
        }
    }

    /// The operand at `depth` (from the bottom), as a value usable here.
    fn operand(&mut self, depth: usize) -> Value {
        let v = self.stack[depth];
        if !self.slots {
            return v;
        }
        let ty = self.b.func.dfg.value_type(v);
        let slot = self.operand_slots[depth];
        self.b.ins().stack_load(PTR, ty, slot, 0)
    }

    /// Pops one operand.
    pub fn pop(&mut self) -> Result<Value, CompileError> {
        let depth = self
            .stack
            .len()
            .checked_sub(1)
            .ok_or_else(|| self.malformed("operand stack underflow"))?;
        let v = self.operand(depth);
        self.stack.pop();
        self.nan.pop();
        Ok(v)
    }

    /// Pops two operands, returning them in push order.
    pub fn pop2(&mut self) -> Result<(Value, Value), CompileError> {
        let b = self.pop()?;
        let a = self.pop()?;
        Ok((a, b))
    }

    /// Pops three operands, returning them in push order.
    pub fn pop3(&mut self) -> Result<(Value, Value, Value), CompileError> {
        let c = self.pop()?;
        let (a, b) = self.pop2()?;
        Ok((a, b, c))
    }

    /// The top `n` operands in push order, without popping.
    pub fn peek_n(&mut self, n: usize) -> Result<Vec<Value>, CompileError> {
        let len = self.stack.len();
        if n > len {
            return Err(self.malformed("operand stack underflow"));
        }
        Ok((len - n..len).map(|depth| self.operand(depth)).collect())
    }

    /// Pops the top `n` operands, returned in push order.
    pub fn pop_n(&mut self, n: usize) -> Result<Vec<Value>, CompileError> {
        let values = self.peek_n(n)?;
        self.truncate_stack(self.stack.len() - n);
        Ok(values)
    }

    /// The operands from `height` up, without popping (as values usable
    /// here).
    pub fn operands_from(&mut self, height: usize) -> Result<Vec<Value>, CompileError> {
        let n = self
            .stack
            .len()
            .checked_sub(height)
            .ok_or_else(|| self.malformed("operand stack underflow"))?;
        self.peek_n(n)
    }
}
