//! One pass over a function body: metered blocks and their static costs,
//! dynamic charge points, frame exits, index rewrites and the maximum
//! operand-stack height (`docs/gas.md`, sections 4 and 5).
//!
//! The pass produces a list of [`Edit`]s, ordered by position, that the
//! rewrite step splices into the original bytes without decoding them again.

use wasmparser::{
    BlockType, FuncType, FunctionBody, Operator, ValType, VisitOperator, VisitSimdOperator,
};

use super::ops::{operator_name, shape_of};
use super::{decode_error, unsupported};
use crate::abi::{RESERVED_FUNCS, RESERVED_GLOBALS};
use crate::schedule::CostClass;
use crate::{InstrumentError, Schedule};

/// More locals than any validated module can declare; guards allocation on
/// inputs that skipped validation.
const MAX_LOCALS: usize = 1_000_000;

/// What the analysis needs to know about the module.
#[derive(Debug, Default)]
pub(crate) struct ModuleTypes {
    /// Function types by type index.
    pub types: Vec<FuncType>,
    /// Type index of every function, imported first.
    pub func_types: Vec<u32>,
    /// Size in bytes of every global's value, imported first.
    pub global_sizes: Vec<u8>,
}

/// One change to a function body at a byte offset of the input module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edit {
    /// Head of a metered block: charge `cost` before the instruction at `pos`
    /// (no code when the cost is zero).
    Charge { pos: usize, cost: u64 },
    /// Charge `fee` per unit of the `i32` count on top of the stack.
    DynamicCharge { pos: usize, fee: u32 },
    /// Give the frame back before the instruction at `pos`.
    Release { pos: usize },
    /// Replace the instruction at `pos..end` with one carrying a new index.
    Reindex {
        pos: usize,
        end: usize,
        instr: Reindexed,
    },
}

impl Edit {
    pub(crate) fn pos(&self) -> usize {
        match *self {
            Edit::Charge { pos, .. }
            | Edit::DynamicCharge { pos, .. }
            | Edit::Release { pos }
            | Edit::Reindex { pos, .. } => pos,
        }
    }
}

/// An instruction re-encoded with a shifted index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reindexed {
    Call(u32),
    RefFunc(u32),
    GlobalGet(u32),
    GlobalSet(u32),
}

/// The result of analysing one function body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionPlan {
    /// The function's type index.
    pub type_index: u32,
    /// Frame cost in bytes (`docs/gas.md`, 5.3).
    pub frame: u64,
    /// Whether the body branches to the function's label and so is wrapped.
    pub wrap: bool,
    /// Whether the body needs the two scratch locals.
    pub scratch: bool,
    /// Number of parameters plus declared locals: the index of the first
    /// scratch local.
    pub first_scratch: u32,
    /// Metered blocks that got charge code.
    pub charged_blocks: u64,
    /// Dynamic charge sequences.
    pub dynamic_charges: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    Function,
    Block,
    Loop,
    If,
    Else,
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    kind: FrameKind,
    block_type: BlockType,
    /// Operand-stack length below this frame's values.
    base: usize,
    /// Operand-stack height in bytes at `base`.
    base_height: u64,
    /// The rest of the current arm is unreachable.
    unreachable: bool,
    /// The frame was entered in dead code.
    start_dead: bool,
}

impl Frame {
    fn dead(&self) -> bool {
        self.unreachable || self.start_dead
    }
}

/// Reusable state for analysing function bodies one after the other. It is
/// also the operator visitor: wasmparser decodes each operator straight into
/// the matching `visit_*` method, which avoids materialising an `Operator`.
pub(crate) struct Analyzer<'m> {
    module: &'m ModuleTypes,
    schedule: &'m Schedule,
    frame_overhead: u64,
    /// Edits of every function analysed so far, in order.
    edits: Vec<Edit>,
    local_sizes: Vec<u8>,
    /// Sizes in bytes of the values on the operand stack.
    stack: Vec<u8>,
    height: u64,
    max_height: u64,
    frames: Vec<Frame>,
    body: BodyState,
}

/// Per-body progress of the analysis.
#[derive(Debug, Default)]
struct BodyState {
    /// Offset of the operator being visited.
    pos: usize,
    /// Cost of the declared locals, charged by the entry block.
    entry_cost: u64,
    is_entry: bool,
    /// The next reachable instruction starts a metered block.
    pending_head: bool,
    /// Index in `edits` of the charge of the current metered block.
    current_block: Option<usize>,
    /// Some branch targets the function's label.
    branches_out: bool,
    /// Some dynamic charge needs the scratch locals.
    scratch: bool,
    /// Index in `edits` of the release before a reachable final `end`.
    final_release: Option<usize>,
    /// Index in `edits` of a reindex whose end offset is not known yet.
    open_reindex: Option<usize>,
    /// The error of the last visited operator, if it failed.
    error: Option<InstrumentError>,
}

/// Block-type signatures whose only result is a single value: just its size
/// matters to the analysis.
const ONE_4: &[ValType] = &[ValType::I32];
const ONE_8: &[ValType] = &[ValType::I64];

pub(crate) fn value_size(ty: ValType, offset: usize) -> Result<u8, InstrumentError> {
    match ty {
        ValType::I32 | ValType::F32 => Ok(4),
        ValType::I64 | ValType::F64 => Ok(8),
        ValType::Ref(r) if r.is_func_ref() || r.is_extern_ref() => Ok(8),
        other => Err(unsupported(
            offset,
            format!("value type {other} is outside the profile"),
        )),
    }
}

impl<'m> Analyzer<'m> {
    pub(crate) fn new(
        module: &'m ModuleTypes,
        schedule: &'m Schedule,
        frame_overhead: u32,
    ) -> Self {
        Self {
            module,
            schedule,
            frame_overhead: u64::from(frame_overhead),
            edits: Vec::new(),
            local_sizes: Vec::new(),
            stack: Vec::new(),
            height: 0,
            max_height: 0,
            frames: Vec::new(),
            body: BodyState::default(),
        }
    }

    /// The edits of the function analysed last, in order.
    pub(crate) fn edits(&self) -> &[Edit] {
        &self.edits
    }

    /// Analyses `body` (of type `type_index`), replacing the edits of the
    /// previous function.
    pub(crate) fn analyze(
        &mut self,
        body: &FunctionBody<'_>,
        type_index: u32,
    ) -> Result<FunctionPlan, InstrumentError> {
        let module = self.module;
        let body_offset = body.range().start as usize;
        self.edits.clear();
        let signature = module
            .types
            .get(type_index as usize)
            .ok_or_else(|| decode_error(body_offset, "function type index out of range"))?;

        self.local_sizes.clear();
        let mut frame: u64 = self.frame_overhead;
        for &param in signature.params() {
            let size = value_size(param, body_offset)?;
            self.local_sizes.push(size);
            frame += u64::from(size);
        }
        let mut declared: u64 = 0;
        for group in body.get_locals_reader().map_err(wasm_error)? {
            let (count, ty) = group.map_err(wasm_error)?;
            let size = value_size(ty, body_offset)?;
            let count = count as usize;
            if self.local_sizes.len().saturating_add(count) > MAX_LOCALS {
                return Err(unsupported(body_offset, "too many locals"));
            }
            self.local_sizes
                .resize(self.local_sizes.len() + count, size);
            declared += count as u64;
            frame += count as u64 * u64::from(size);
        }
        let first_scratch = u32::try_from(self.local_sizes.len())
            .map_err(|_| unsupported(body_offset, "too many locals"))?;

        self.stack.clear();
        self.height = 0;
        self.max_height = 0;
        self.frames.clear();
        self.frames.push(Frame {
            kind: FrameKind::Function,
            block_type: BlockType::FuncType(type_index),
            base: 0,
            base_height: 0,
            unreachable: false,
            start_dead: false,
        });
        self.body = BodyState {
            entry_cost: u64::from(self.schedule.per_local).saturating_mul(declared),
            is_entry: true,
            pending_head: true,
            ..BodyState::default()
        };

        let mut reader = body.get_operators_reader().map_err(wasm_error)?;
        while !reader.eof() {
            self.body.pos = reader.original_position() as usize;
            reader.visit_operator(self).map_err(wasm_error)?;
            if let Some(error) = self.body.error.take() {
                return Err(error);
            }
            if let Some(index) = self.body.open_reindex.take()
                && let Some(Edit::Reindex { end, .. }) = self.edits.get_mut(index)
            {
                *end = reader.original_position() as usize;
            }
        }
        if !self.frames.is_empty() {
            return Err(decode_error(
                body.range().end as usize,
                "function body without final end",
            ));
        }

        let branches_out = self.body.branches_out;
        if branches_out && let Some(index) = self.body.final_release {
            // The wrapper's release covers the fallthrough exit.
            self.edits.remove(index);
        }
        let frame = frame
            .checked_add(self.max_height)
            .filter(|&frame| frame <= i64::MAX as u64)
            .ok_or_else(|| unsupported(body_offset, "frame cost does not fit in i64"))?;
        let charged_blocks = self
            .edits
            .iter()
            .filter(|edit| matches!(edit, Edit::Charge { cost, .. } if *cost > 0))
            .count() as u64;
        let dynamic_charges = self
            .edits
            .iter()
            .filter(|edit| matches!(edit, Edit::DynamicCharge { .. }))
            .count() as u64;
        Ok(FunctionPlan {
            type_index,
            frame,
            wrap: branches_out,
            scratch: self.body.scratch,
            first_scratch,
            charged_blocks,
            dynamic_charges,
        })
    }

    /// [`Self::step`] for operators outside the profile, not inlined.
    #[inline(never)]
    fn step_outside_the_profile(&mut self, op: Operator<'_>) -> Result<(), InstrumentError> {
        self.step(op)
    }

    /// Applies one operator. Every `visit_*` method of the profile calls this
    /// with its own operator, so after inlining each keeps only its own arm.
    #[inline(always)]
    fn step(&mut self, op: Operator<'_>) -> Result<(), InstrumentError> {
        let module = self.module;
        let schedule = self.schedule;
        let pos = self.body.pos;
        let Some(top) = self.frames.last() else {
            return Err(decode_error(pos, "instruction after the final end"));
        };
        let dead = top.dead();
        if !dead && self.body.pending_head {
            let cost = if self.body.is_entry {
                self.body.entry_cost
            } else {
                0
            };
            self.edits.push(Edit::Charge { pos, cost });
            self.body.current_block = Some(self.edits.len() - 1);
            self.body.pending_head = false;
        }
        self.body.is_entry = false;

        // `ends_block`: the next reachable instruction starts a new
        // metered block.
        let (class, ends_block) = match op {
            Operator::Unreachable => {
                self.set_unreachable();
                (CostClass::Branch, true)
            }
            Operator::Nop => (CostClass::Structure, false),
            Operator::Block { blockty } => {
                self.push_frame(FrameKind::Block, blockty, dead, pos)?;
                (CostClass::Structure, false)
            }
            Operator::Loop { blockty } => {
                self.push_frame(FrameKind::Loop, blockty, dead, pos)?;
                (CostClass::Structure, true)
            }
            Operator::If { blockty } => {
                if !dead {
                    self.pop(1, pos)?;
                }
                self.push_frame(FrameKind::If, blockty, dead, pos)?;
                (CostClass::Branch, true)
            }
            Operator::Else => {
                self.enter_else(pos)?;
                (CostClass::Structure, true)
            }
            Operator::End => {
                let frame = self
                    .frames
                    .pop()
                    .ok_or_else(|| decode_error(pos, "unbalanced end"))?;
                if self.frames.is_empty() {
                    if !dead {
                        self.edits.push(Edit::Release { pos });
                        self.body.final_release = Some(self.edits.len() - 1);
                    }
                } else if !frame.start_dead {
                    self.truncate(frame.base, frame.base_height);
                    let (_, results) = self.block_signature(frame.block_type, pos)?;
                    self.push_types(results, pos)?;
                }
                (CostClass::Structure, true)
            }
            Operator::Br { relative_depth } => {
                self.body.branches_out |= self.targets_function(relative_depth, pos)?;
                self.set_unreachable();
                (CostClass::Branch, true)
            }
            Operator::BrIf { relative_depth } => {
                if !dead {
                    self.pop(1, pos)?;
                }
                self.body.branches_out |= self.targets_function(relative_depth, pos)?;
                (CostClass::Branch, true)
            }
            Operator::BrTable { ref targets } => {
                if !dead {
                    self.pop(1, pos)?;
                }
                self.body.branches_out |= self.targets_function(targets.default(), pos)?;
                for target in targets.targets() {
                    let target = target.map_err(wasm_error)?;
                    self.body.branches_out |= self.targets_function(target, pos)?;
                }
                self.set_unreachable();
                (CostClass::BrTable, true)
            }
            Operator::Return => {
                if !dead {
                    self.edits.push(Edit::Release { pos });
                }
                self.set_unreachable();
                (CostClass::Branch, true)
            }
            Operator::Call { function_index } => {
                let new_index = shift(function_index, RESERVED_FUNCS, pos)?;
                self.reindex(Reindexed::Call(new_index));
                if !dead {
                    let callee = module
                        .func_types
                        .get(function_index as usize)
                        .and_then(|&ty| module.types.get(ty as usize))
                        .ok_or_else(|| decode_error(pos, "function index out of range"))?;
                    self.pop(callee.params().len(), pos)?;
                    self.push_types(callee.results(), pos)?;
                }
                (CostClass::Call, false)
            }
            Operator::CallIndirect { type_index, .. } => {
                if !dead {
                    let callee = module
                        .types
                        .get(type_index as usize)
                        .ok_or_else(|| decode_error(pos, "type index out of range"))?;
                    self.pop(1 + callee.params().len(), pos)?;
                    self.push_types(callee.results(), pos)?;
                }
                (CostClass::CallIndirect, false)
            }
            Operator::Drop => {
                if !dead {
                    self.pop(1, pos)?;
                }
                (CostClass::Drop, false)
            }
            Operator::Select => {
                if !dead {
                    self.pop(1, pos)?;
                    let chosen = self.pop_one(pos)?;
                    self.pop(1, pos)?;
                    self.push(chosen);
                }
                (CostClass::Select, false)
            }
            Operator::TypedSelect { ty } => {
                if !dead {
                    self.pop(3, pos)?;
                    self.push(value_size(ty, pos)?);
                }
                (CostClass::Select, false)
            }
            Operator::LocalGet { local_index } => {
                if !dead {
                    let size = self.local_size(local_index, pos)?;
                    self.push(size);
                }
                (CostClass::Local, false)
            }
            Operator::LocalTee { local_index } => {
                if !dead {
                    self.pop(1, pos)?;
                    let size = self.local_size(local_index, pos)?;
                    self.push(size);
                }
                (CostClass::Local, false)
            }
            Operator::LocalSet { .. } => {
                if !dead {
                    self.pop(1, pos)?;
                }
                (CostClass::Local, false)
            }
            Operator::GlobalGet { global_index } => {
                let new_index = shift(global_index, RESERVED_GLOBALS, pos)?;
                self.reindex(Reindexed::GlobalGet(new_index));
                if !dead {
                    let size = *module
                        .global_sizes
                        .get(global_index as usize)
                        .ok_or_else(|| decode_error(pos, "global index out of range"))?;
                    self.push(size);
                }
                (CostClass::Global, false)
            }
            Operator::GlobalSet { global_index } => {
                let new_index = shift(global_index, RESERVED_GLOBALS, pos)?;
                self.reindex(Reindexed::GlobalSet(new_index));
                if !dead {
                    self.pop(1, pos)?;
                }
                (CostClass::Global, false)
            }
            Operator::RefFunc { function_index } => {
                let new_index = shift(function_index, RESERVED_FUNCS, pos)?;
                self.reindex(Reindexed::RefFunc(new_index));
                if !dead {
                    self.push(8);
                }
                (CostClass::Reference, false)
            }
            ref other => {
                let shape = shape_of(other).ok_or_else(|| InstrumentError::NoCost {
                    offset: pos as u64,
                    operator: operator_name(other),
                })?;
                if !dead {
                    if let Some(fee) = shape.fee {
                        let fee = schedule.fee(fee);
                        if fee > 0 {
                            self.edits.push(Edit::DynamicCharge { pos, fee });
                            self.body.scratch = true;
                        }
                    }
                    self.pop(usize::from(shape.pops), pos)?;
                    if shape.push != 0 {
                        self.push(shape.push);
                    }
                }
                (shape.class, false)
            }
        };

        if !dead {
            if let Some(Edit::Charge { cost, .. }) = self
                .body
                .current_block
                .and_then(|index| self.edits.get_mut(index))
            {
                *cost = cost.saturating_add(u64::from(schedule.cost(class)));
            }
            self.max_height = self.max_height.max(self.height);
        }
        if ends_block {
            self.body.pending_head = true;
            self.body.current_block = None;
        }
        Ok(())
    }

    /// Records a reindex at the current operator; its end offset is filled
    /// in once the operator's immediates have been read.
    #[inline]
    fn reindex(&mut self, instr: Reindexed) {
        self.edits.push(Edit::Reindex {
            pos: self.body.pos,
            end: self.body.pos,
            instr,
        });
        self.body.open_reindex = Some(self.edits.len() - 1);
    }

    fn block_signature(
        &self,
        block_type: BlockType,
        pos: usize,
    ) -> Result<(&'m [ValType], &'m [ValType]), InstrumentError> {
        let module = self.module;
        match block_type {
            BlockType::Empty => Ok((&[], &[])),
            BlockType::Type(ty) => match value_size(ty, pos)? {
                4 => Ok((&[], ONE_4)),
                _ => Ok((&[], ONE_8)),
            },
            BlockType::FuncType(index) => {
                let ty = module
                    .types
                    .get(index as usize)
                    .ok_or_else(|| decode_error(pos, "block type index out of range"))?;
                Ok((ty.params(), ty.results()))
            }
        }
    }

    fn push_frame(
        &mut self,
        kind: FrameKind,
        block_type: BlockType,
        dead: bool,
        pos: usize,
    ) -> Result<(), InstrumentError> {
        if dead {
            self.frames.push(Frame {
                kind,
                block_type,
                base: self.stack.len(),
                base_height: self.height,
                unreachable: false,
                start_dead: true,
            });
            return Ok(());
        }
        let (params, _) = self.block_signature(block_type, pos)?;
        self.pop(params.len(), pos)?;
        self.frames.push(Frame {
            kind,
            block_type,
            base: self.stack.len(),
            base_height: self.height,
            unreachable: false,
            start_dead: false,
        });
        self.push_types(params, pos)
    }

    fn enter_else(&mut self, pos: usize) -> Result<(), InstrumentError> {
        let frame = *self
            .frames
            .last()
            .ok_or_else(|| decode_error(pos, "else outside if"))?;
        if frame.kind != FrameKind::If {
            return Err(decode_error(pos, "else outside if"));
        }
        if !frame.start_dead {
            self.truncate(frame.base, frame.base_height);
            let (params, _) = self.block_signature(frame.block_type, pos)?;
            self.push_types(params, pos)?;
        }
        if let Some(top) = self.frames.last_mut() {
            top.kind = FrameKind::Else;
            top.unreachable = false;
        }
        Ok(())
    }

    /// Whether a branch to `relative_depth` leaves the function.
    #[inline]
    fn targets_function(&self, relative_depth: u32, pos: usize) -> Result<bool, InstrumentError> {
        let depth = relative_depth as usize;
        if depth >= self.frames.len() {
            return Err(decode_error(pos, "branch depth out of range"));
        }
        Ok(depth == self.frames.len() - 1)
    }

    #[inline]
    fn set_unreachable(&mut self) {
        if let Some(top) = self.frames.last_mut() {
            top.unreachable = true;
            let (base, base_height) = (top.base, top.base_height);
            self.truncate(base, base_height);
        }
    }

    #[inline]
    fn truncate(&mut self, len: usize, height: u64) {
        self.stack.truncate(len);
        self.height = height;
    }

    #[inline]
    fn local_size(&self, index: u32, pos: usize) -> Result<u8, InstrumentError> {
        self.local_sizes
            .get(index as usize)
            .copied()
            .ok_or_else(|| decode_error(pos, "local index out of range"))
    }

    #[inline]
    fn push(&mut self, size: u8) {
        self.stack.push(size);
        self.height += u64::from(size);
    }

    #[inline]
    fn push_types(&mut self, types: &[ValType], pos: usize) -> Result<(), InstrumentError> {
        for &ty in types {
            let size = value_size(ty, pos)?;
            self.push(size);
        }
        Ok(())
    }

    #[inline]
    fn pop_one(&mut self, pos: usize) -> Result<u8, InstrumentError> {
        let base = self.frames.last().map_or(0, |frame| frame.base);
        if self.stack.len() <= base {
            return Err(decode_error(pos, "operand stack underflow"));
        }
        let size = self.stack.pop().unwrap_or(0);
        self.height -= u64::from(size);
        Ok(size)
    }

    #[inline]
    fn pop(&mut self, count: usize, pos: usize) -> Result<(), InstrumentError> {
        for _ in 0..count {
            self.pop_one(pos)?;
        }
        Ok(())
    }
}

macro_rules! visit_by_step {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            fn $visit(&mut self $($(, $arg: $argty)*)?) {
                if let Err(error) = step_for!($proposal)(self, Operator::$op $({ $($arg),* })?) {
                    self.body.error = Some(error);
                }
            }
        )*
    };
}

/// The step a visitor of an operator from `proposal` calls: the inlined one
/// for the profile's proposals (those `features::operator` classifies as
/// needing no feature), one shared out-of-line copy for the rest.
/// Both run the same code; only where the compiler specialises differs.
/// Specialising all of wasmparser's ~800 operators (SIMD, GC, threads, ...,
/// which validation rejects before instrumentation sees them) made this
/// crate take over a minute to optimise, for nothing a contract can reach.
#[rustfmt::skip]
macro_rules! step_for {
    (mvp) => { Analyzer::step };
    (sign_extension) => { Analyzer::step };
    (saturating_float_to_int) => { Analyzer::step };
    (bulk_memory) => { Analyzer::step };
    (reference_types) => { Analyzer::step };
    ($outside_the_profile:ident) => { Analyzer::step_outside_the_profile };
}

impl<'a> VisitOperator<'a> for Analyzer<'_> {
    // Errors are parked in `BodyState::error`: a unit output keeps the hot
    // decode loop free of large result copies.
    type Output = ();

    fn simd_visitor(&mut self) -> Option<&mut dyn VisitSimdOperator<'a, Output = Self::Output>> {
        Some(self)
    }

    wasmparser::for_each_visit_operator!(visit_by_step);
}

impl<'a> VisitSimdOperator<'a> for Analyzer<'_> {
    wasmparser::for_each_visit_simd_operator!(visit_by_step);
}

fn shift(index: u32, by: u32, pos: usize) -> Result<u32, InstrumentError> {
    index
        .checked_add(by)
        .ok_or_else(|| unsupported(pos, "index does not fit after shifting"))
}

pub(crate) fn wasm_error(error: wasmparser::BinaryReaderError) -> InstrumentError {
    InstrumentError::Decode {
        offset: error.offset(),
        message: error.message().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::sections::parse;

    /// Frame cost and edits of the first defined function of `wat`.
    fn plan_of(wat: &str) -> (FunctionPlan, Vec<Edit>) {
        let bytes = wat::parse_str(wat).expect("test module parses");
        let parsed = parse(&bytes).expect("test module decodes");
        let schedule = Schedule::v1();
        let mut analyzer = Analyzer::new(&parsed.types, &schedule, 0);
        let type_index = parsed.types.func_types[parsed.imported_functions as usize];
        let plan = analyzer
            .analyze(&parsed.bodies[0], type_index)
            .expect("analyses");
        (plan, analyzer.edits().to_vec())
    }

    #[test]
    fn dead_code_does_not_count_towards_the_frame() {
        let (plan, edits) = plan_of(
            "(module (func (result i32)
                i32.const 1
                return
                i64.const 1 i64.const 2 i64.const 3 i64.const 4 drop drop drop drop))",
        );
        assert_eq!(plan.frame, 4);
        // One charge for the live block, one release before `return`, none
        // for the dead code or the unreachable final `end`.
        assert_eq!(edits.len(), 2, "{edits:?}");
    }

    #[test]
    fn block_parameters_are_counted_once() {
        let (plan, _) = plan_of(
            "(module (func (param i64)
                local.get 0
                i32.const 1
                block (param i64 i32) (result i64)
                  drop
                end
                drop))",
        );
        // Param 8 + at most an i64 and an i32 on the stack.
        assert_eq!(plan.frame, 8 + 12);
    }

    #[test]
    fn untyped_select_keeps_the_size_of_its_operands() {
        let (plan, _) = plan_of(
            "(module (func (param i64 i64 i32) (result i64)
                local.get 0 local.get 1 local.get 2 select
                local.get 0
                i64.add))",
        );
        // Params 20; peak 20 before select, then 16 after the second get.
        assert_eq!(plan.frame, 20 + 20);
    }

    #[test]
    fn branches_to_the_function_label_require_the_wrapper() {
        let (plan, edits) = plan_of("(module (func (param i32) block local.get 0 br_if 1 end))");
        assert!(plan.wrap);
        assert!(
            !edits
                .iter()
                .any(|edit| matches!(edit, Edit::Release { .. }))
        );
        let (plan, _) = plan_of("(module (func (param i32) block local.get 0 br_if 0 end))");
        assert!(!plan.wrap);
    }
}
