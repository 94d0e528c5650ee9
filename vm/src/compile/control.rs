//! The control stack: `block`, `loop`, `if`/`else`, `end`, branches, and
//! skipping of unreachable code.
//!
//! Every Wasm label maps to one Cranelift block. With the register
//! strategy its parameters carry the label's values (multi-value); with the
//! slot strategy the values travel through the operand slots at the
//! label's stack positions and the block has no parameters: a block
//! parameter with thousands of incoming values (thousands of `br_if`s to
//! one label) makes register allocation quadratic. Code after an unconditional transfer is
//! not translated until the `else`/`end` that makes it reachable again; the
//! blocks opened meanwhile are only counted, so the work stays linear.

use std::collections::HashMap;

use cranelift_codegen::ir::{self, Block, BlockArg, InstBuilder, Value, types::I32};
use wasmparser::BlockType;

use super::func_env::nan::Nan;
use super::func_env::{FAN_IN, Translator};
use super::{CompileError, IndexSpace, TranslateProblem};
use crate::vmctx::TrapCode;

/// What kind of construct a frame is.
#[derive(Debug, Clone)]
pub(super) enum FrameKind {
    /// The function body; its end returns.
    Function,
    /// `block`.
    Block,
    /// `loop`: branches go to `header`, through `back_edges` with the
    /// slot strategy.
    Loop {
        header: Block,
        back_edges: BackEdges,
        /// The locals read as their value from before the loop.
        held: Vec<u32>,
    },
    /// `if` whose `else` has not been seen: `else_block` starts the
    /// alternative, which begins with `params` on the stack.
    If {
        else_block: Block,
        params: Vec<Value>,
        /// The parameters' NaN classes.
        param_nan: Vec<Nan>,
        mem_cache: Option<(Value, Value)>,
    },
    /// `if` after its `else`.
    Else,
}

/// The blocks that gather one loop's back-edges (slot strategy). A header
/// reached by thousands of `br_if`s makes the dominator-tree build walk,
/// for each of them, from its source up through the whole loop body to the
/// dominator of those seen so far: quadratic. Back-edges instead go to
/// blocks of at most [`FAN_IN`] predecessors each, joined at the loop's
/// `end` by a tree of such blocks, so each walk stays within one group
/// and the work is O(n log n) with a small base.
#[derive(Debug, Clone, Default)]
pub(super) struct BackEdges {
    open: Option<(Block, u32)>,
    full: Vec<Block>,
}

/// One entry of the control stack.
#[derive(Debug, Clone)]
pub(super) struct Frame {
    pub kind: FrameKind,
    /// Where control continues after `end`; its parameters are the results.
    pub dest: Block,
    /// Number of parameters (what a branch to a loop carries).
    pub num_params: usize,
    /// Number of results (what a branch to any other label carries).
    pub num_results: usize,
    /// Their types.
    pub result_types: Vec<ir::Type>,
    /// Their NaN classes: the greatest over the edges to `dest` so far,
    /// each settled (`docs/vm.md`, "Floats"), so never pending.
    pub result_nan: Vec<Nan>,
    /// Operand stack height below the frame's parameters.
    pub height: usize,
    /// Whether anything jumps to `dest`.
    pub dest_reachable: bool,
    /// The bounds known where the construct began (see
    /// `Translator::checked`): every path into the construct, and so to
    /// its `else` and its `end`, passed there.
    pub checked_before: Vec<(Value, u64)>,
}

impl Translator<'_, '_> {
    /// Parameter and result types of a block type.
    fn block_types(&self, bt: BlockType) -> Result<(Vec<ir::Type>, Vec<ir::Type>), CompileError> {
        let conv = |tys: &[wasmparser::ValType]| -> Result<Vec<ir::Type>, CompileError> {
            tys.iter()
                .map(|&t| {
                    super::clif_type(t)
                        .ok_or_else(|| self.err(TranslateProblem::ValueType { what: "block type" }))
                })
                .collect()
        };
        match bt {
            BlockType::Empty => Ok((Vec::new(), Vec::new())),
            BlockType::Type(t) => Ok((Vec::new(), conv(&[t])?)),
            BlockType::FuncType(i) => {
                let ty = self
                    .m
                    .env
                    .types
                    .get(i as usize)
                    .ok_or_else(|| self.unknown(IndexSpace::Type, i))?;
                Ok((conv(ty.params())?, conv(ty.results())?))
            }
        }
    }

    /// The block of a label carrying `types`: with parameters only when
    /// label values are block arguments.
    fn label_block(&mut self, types: &[ir::Type]) -> Block {
        if self.labels_in_slots() {
            return self.b.create_block();
        }
        self.block_with_params(types)
    }

    /// Settles the top `n` operands, about to be carried to the label of
    /// frame `idx`, and raises that label's classes to theirs. A label's
    /// other edges may carry kept bits, and a loop's back-edges are not
    /// translated yet when its body reads its parameters, so no label
    /// carries pending values.
    fn settle_edge(&mut self, idx: usize, n: usize) -> Result<(), CompileError> {
        self.settle_top(n)?;
        let classes = self.top_classes(n);
        let frame = &mut self.control[idx];
        if !matches!(frame.kind, FrameKind::Loop { .. }) {
            for (have, &c) in frame.result_nan.iter_mut().zip(&classes) {
                *have = (*have).max(c);
            }
        }
        Ok(())
    }

    /// The arguments of a branch to a label at `height` carrying the top
    /// `n` operands: the operands themselves, or (slot strategy) none,
    /// after moving them to the label's positions.
    fn label_args(&mut self, height: usize, n: usize) -> Result<Vec<BlockArg>, CompileError> {
        if self.labels_in_slots() {
            self.move_to_label(height, n)?;
            return Ok(Vec::new());
        }
        Ok(self.peek_n(n)?.into_iter().map(BlockArg::Value).collect())
    }

    /// Continues at `block`, the target of a label at `height` carrying
    /// `types`, and returns the label's values, usable there.
    fn label_values(&mut self, block: Block, height: usize, types: &[ir::Type]) -> Vec<Value> {
        self.truncate_stack(height);
        self.b.switch_to_block(block);
        if self.labels_in_slots() {
            self.load_label(height, types)
        } else {
            self.b.block_params(block).to_vec()
        }
    }

    /// Continues at `block` as [`Self::label_values`] does, with the
    /// label's values pushed, of NaN classes `classes`.
    fn enter_label(&mut self, block: Block, height: usize, types: &[ir::Type], classes: &[Nan]) {
        let values = self.label_values(block, height, types);
        if self.labels_in_slots() {
            // Loaded from their own slots: nothing to store.
            self.push_loaded(&values, classes);
        } else {
            self.push_all(&values, classes);
        }
    }

    fn block_with_params(&mut self, types: &[ir::Type]) -> Block {
        let block = self.b.create_block();
        for &t in types {
            self.b.append_block_param(block, t);
        }
        block
    }

    /// Pushes the function body's frame.
    pub fn push_function_frame(&mut self) {
        let results = self.results.clone();
        let dest = self.label_block(&results);
        self.control.push(Frame {
            kind: FrameKind::Function,
            dest,
            num_params: 0,
            num_results: results.len(),
            result_nan: vec![Nan::Canonical; results.len()],
            result_types: results,
            height: 0,
            dest_reachable: false,
            checked_before: Vec::new(),
        });
    }

    /// `block`.
    pub fn op_block(&mut self, bt: BlockType) -> Result<(), CompileError> {
        if !self.reachable {
            self.unreachable_depth += 1;
            return Ok(());
        }
        let (params, results) = self.block_types(bt)?;
        let dest = self.label_block(&results);
        let height = self.stack_height_below(params.len())?;
        self.control.push(Frame {
            kind: FrameKind::Block,
            dest,
            num_params: params.len(),
            num_results: results.len(),
            result_nan: vec![Nan::Canonical; results.len()],
            result_types: results,
            height,
            dest_reachable: false,
            checked_before: self.checked.clone(),
        });
        Ok(())
    }

    /// `loop`.
    pub fn op_loop(&mut self, bt: BlockType) -> Result<(), CompileError> {
        if !self.reachable {
            self.unreachable_depth += 1;
            return Ok(());
        }
        let (params, results) = self.block_types(bt)?;
        let header = self.label_block(&params);
        let dest = self.label_block(&results);
        let height = self.stack_height_below(params.len())?;
        self.settle_top(params.len())?;
        let args = self.label_args(height, params.len())?;
        let held = self.hold_loop_locals();
        self.b.ins().jump(header, &args);
        let kept = vec![Nan::Kept; params.len()];
        self.enter_label(header, height, &params, &kept);
        self.mem_cache = None;
        // The checks known here hold inside: the header is entered from
        // here first, and its back-edges come from inside.
        self.control.push(Frame {
            kind: FrameKind::Loop {
                header,
                back_edges: BackEdges::default(),
                held,
            },
            dest,
            num_params: params.len(),
            num_results: results.len(),
            result_nan: vec![Nan::Canonical; results.len()],
            result_types: results,
            height,
            dest_reachable: false,
            checked_before: self.checked.clone(),
        });
        Ok(())
    }

    /// `if`.
    pub fn op_if(&mut self, bt: BlockType) -> Result<(), CompileError> {
        if !self.reachable {
            self.unreachable_depth += 1;
            return Ok(());
        }
        let cond = self.pop()?;
        let (params, results) = self.block_types(bt)?;
        let dest = self.label_block(&results);
        let height = self.stack_height_below(params.len())?;
        let then_block = self.b.create_block();
        // Both arms have the `if`'s block as only predecessor, so with the
        // register strategy the parameters and the cached memory
        // descriptor stay valid in both. The slot strategy keeps no value
        // live across the `then` arm: the `else` arm receives the
        // parameters as block arguments and reloads the descriptor.
        let (else_block, else_args, mem_cache) = if self.slots {
            let args = self.operands_from(height)?;
            (self.block_with_params(&params), args, None)
        } else {
            (self.b.create_block(), Vec::new(), self.mem_cache)
        };
        let else_args: Vec<BlockArg> = else_args.into_iter().map(BlockArg::Value).collect();
        self.b
            .ins()
            .brif(cond, then_block, &[], else_block, &else_args);
        self.b.seal_block(else_block);
        self.b.switch_to_block(then_block);
        self.b.seal_block(then_block);
        let saved = if self.slots {
            self.b.block_params(else_block).to_vec()
        } else {
            self.operands_from(height)?
        };
        let param_nan = self.top_classes(params.len());
        self.control.push(Frame {
            kind: FrameKind::If {
                else_block,
                params: saved,
                param_nan,
                mem_cache,
            },
            dest,
            num_params: params.len(),
            num_results: results.len(),
            result_nan: vec![Nan::Canonical; results.len()],
            result_types: results,
            height,
            dest_reachable: false,
            checked_before: self.checked.clone(),
        });
        Ok(())
    }

    /// Jumps to `frame.dest` with the top `num_results` operands.
    fn jump_to_dest(&mut self, idx: usize) -> Result<(), CompileError> {
        let frame = &self.control[idx];
        let (dest, n, height) = (frame.dest, frame.num_results, frame.height);
        self.settle_edge(idx, n)?;
        let args = self.label_args(height, n)?;
        self.b.ins().jump(dest, &args);
        self.control[idx].dest_reachable = true;
        Ok(())
    }

    /// `else`.
    pub fn op_else(&mut self) -> Result<(), CompileError> {
        if self.unreachable_depth > 0 {
            return Ok(());
        }
        let idx = self
            .control
            .len()
            .checked_sub(1)
            .ok_or_else(|| self.malformed("else without if"))?;
        if self.reachable {
            self.jump_to_dest(idx)?;
        }
        let frame = &mut self.control[idx];
        let FrameKind::If {
            else_block,
            params,
            param_nan,
            mem_cache,
        } = std::mem::replace(&mut frame.kind, FrameKind::Else)
        else {
            return Err(self.malformed("else without if"));
        };
        let height = frame.height;
        self.truncate_stack(height);
        self.b.switch_to_block(else_block);
        self.push_all(&params, &param_nan);
        self.mem_cache = mem_cache;
        // Bounds proven in the other arm do not hold here; those known
        // before the `if` do.
        self.checked = self.control[idx].checked_before.clone();
        self.reachable = true;
        Ok(())
    }

    /// `end`. Returns true when it closed the function body.
    pub fn op_end(&mut self) -> Result<bool, CompileError> {
        if self.unreachable_depth > 0 {
            self.unreachable_depth -= 1;
            return Ok(false);
        }
        let idx = self
            .control
            .len()
            .checked_sub(1)
            .ok_or_else(|| self.malformed("end without block"))?;
        if self.reachable {
            self.jump_to_dest(idx)?;
        }
        if matches!(self.control[idx].kind, FrameKind::If { .. })
            && let FrameKind::If {
                else_block,
                params,
                param_nan,
                ..
            } = std::mem::replace(&mut self.control[idx].kind, FrameKind::Else)
        {
            // No `else`: the alternative passes the parameters through, an
            // edge like any other.
            self.b.switch_to_block(else_block);
            self.truncate_stack(self.control[idx].height);
            self.push_all(&params, &param_nan);
            self.jump_to_dest(idx)?;
        }
        let Some(mut frame) = self.control.pop() else {
            return Err(self.malformed("end without block"));
        };
        // What holds at `dest`: a loop is left only by falling off its end,
        // so what its body's end knew; any other construct may be left
        // from several points, all after where it began.
        let checked_after = match frame.kind {
            FrameKind::Loop { .. } => std::mem::take(&mut self.checked),
            _ => std::mem::take(&mut frame.checked_before),
        };
        match std::mem::replace(&mut frame.kind, FrameKind::Block) {
            FrameKind::Loop {
                header,
                back_edges,
                held,
            } => {
                self.release_held(&held);
                self.join_back_edges(header, back_edges);
                self.b.seal_block(header);
            }
            FrameKind::Function => {
                self.truncate_stack(frame.height);
                self.b.seal_block(frame.dest);
                if frame.dest_reachable {
                    let rets = self.label_values(frame.dest, 0, &frame.result_types);
                    self.return_with_counters(&rets);
                }
                self.reachable = false;
                return Ok(true);
            }
            FrameKind::Block | FrameKind::Else | FrameKind::If { .. } => {}
        }
        self.truncate_stack(frame.height);
        self.b.seal_block(frame.dest);
        self.mem_cache = None;
        self.checked = checked_after;
        self.unalias_checked();
        if frame.dest_reachable {
            self.enter_label(
                frame.dest,
                frame.height,
                &frame.result_types,
                &frame.result_nan,
            );
            self.reachable = true;
        } else {
            self.reachable = false;
        }
        Ok(false)
    }

    /// The branch target for relative depth `depth`: block, argument
    /// count and the stack height of the label's values. Marks the label
    /// as reached, and settles the values the branch carries (see
    /// [`Self::settle_edge`]).
    fn branch_target(&mut self, depth: u32) -> Result<(Block, usize, usize), CompileError> {
        let idx = self
            .control
            .len()
            .checked_sub(1 + depth as usize)
            .ok_or_else(|| self.unknown(IndexSpace::Label, depth))?;
        let frame = &self.control[idx];
        let carried = match frame.kind {
            FrameKind::Loop { .. } => frame.num_params,
            _ => frame.num_results,
        };
        self.settle_edge(idx, carried)?;
        let slots = self.slots;
        let frame = &mut self.control[idx];
        Ok(match &mut frame.kind {
            FrameKind::Loop { header, .. } if !slots => (*header, frame.num_params, frame.height),
            FrameKind::Loop { back_edges, .. } => {
                let (block, full) = Self::fan_in_block(&mut self.b, &mut back_edges.open, false);
                back_edges.full.extend(full);
                (block, frame.num_params, frame.height)
            }
            _ => {
                frame.dest_reachable = true;
                (frame.dest, frame.num_results, frame.height)
            }
        })
    }

    /// Joins the blocks that gathered a loop's back-edges into its
    /// `header`, through a tree of fan-in at most [`FAN_IN`] (see
    /// [`BackEdges`]). They hold nothing but the jump: with the slot
    /// strategy label values are already in their slots.
    fn join_back_edges(&mut self, header: Block, back_edges: BackEdges) {
        let mut level: Vec<Block> = back_edges.full;
        level.extend(back_edges.open.map(|(block, _)| block));
        while level.len() > FAN_IN as usize {
            let mut parents = Vec::with_capacity(level.len().div_ceil(FAN_IN as usize));
            for group in level.chunks(FAN_IN as usize) {
                let parent = self.b.create_block();
                for &child in group {
                    self.b.switch_to_block(child);
                    self.b.seal_block(child);
                    self.b.ins().jump(parent, &[]);
                }
                parents.push(parent);
            }
            level = parents;
        }
        for block in level {
            self.b.switch_to_block(block);
            self.b.seal_block(block);
            self.b.ins().jump(header, &[]);
        }
    }

    /// `br`.
    pub fn op_br(&mut self, depth: u32) -> Result<(), CompileError> {
        if !self.reachable {
            return Ok(());
        }
        let (target, n, height) = self.branch_target(depth)?;
        let args = self.label_args(height, n)?;
        self.b.ins().jump(target, &args);
        self.reachable = false;
        Ok(())
    }

    /// `return`.
    pub fn op_return(&mut self) -> Result<(), CompileError> {
        let depth = self
            .control
            .len()
            .checked_sub(1)
            .ok_or_else(|| self.malformed("return outside a function"))?;
        self.op_br(depth as u32)
    }

    /// `br_if`.
    pub fn op_br_if(&mut self, depth: u32) -> Result<(), CompileError> {
        if !self.reachable {
            return Ok(());
        }
        let cond = self.pop()?;
        let (target, n, height) = self.branch_target(depth)?;
        let next = self.b.create_block();
        let from = self.stack_height_below(n)?;
        if self.labels_in_slots() && from != height {
            // The positions the values move to may hold operands the
            // fall-through still needs: move them on the taken edge only.
            let taken = self.b.create_block();
            self.b.ins().brif(cond, taken, &[], next, &[]);
            self.b.switch_to_block(taken);
            self.b.seal_block(taken);
            self.move_to_label(height, n)?;
            self.b.ins().jump(target, &[]);
        } else {
            let args = self.label_args(height, n)?;
            self.b.ins().brif(cond, target, &args, next, &[]);
        }
        self.b.switch_to_block(next);
        self.b.seal_block(next);
        Ok(())
    }

    /// `br_table`.
    pub fn op_br_table(&mut self, targets: &wasmparser::BrTable<'_>) -> Result<(), CompileError> {
        if !self.reachable {
            return Ok(());
        }
        let index = self.pop()?;
        let mut depths = Vec::with_capacity(targets.len() as usize);
        for t in targets.targets() {
            depths.push(t.map_err(|e| {
                self.err(TranslateProblem::Decode {
                    message: e.message().to_string(),
                })
            })?);
        }
        let default = targets.default();
        let (_, n, _) = self.branch_target(default)?;
        let args: Vec<BlockArg> = if self.labels_in_slots() {
            Vec::new()
        } else {
            self.peek_n(n)?.into_iter().map(BlockArg::Value).collect()
        };

        // Without arguments every entry jumps straight to its label; with
        // arguments each distinct label gets one edge block that passes
        // them, so no entry carries arguments of its own.
        let mut edge_blocks: Vec<(Block, Block, usize)> = Vec::new();
        let mut edge_of: HashMap<u32, Block> = HashMap::new();
        let mut resolve = |this: &mut Self, depth: u32| -> Result<Block, CompileError> {
            let (target, _, height) = this.branch_target(depth)?;
            if n == 0 {
                return Ok(target);
            }
            if let Some(&b) = edge_of.get(&depth) {
                return Ok(b);
            }
            let edge = this.b.create_block();
            edge_of.insert(depth, edge);
            edge_blocks.push((edge, target, height));
            Ok(edge)
        };
        let default_block = resolve(self, default)?;
        let mut entries = Vec::with_capacity(depths.len());
        for &d in &depths {
            let block = resolve(self, d)?;
            entries.push(block);
        }
        let pool = &mut self.b.func.dfg.value_lists;
        let default_call = ir::BlockCall::new(default_block, [], pool);
        let calls: Vec<ir::BlockCall> = entries
            .iter()
            .map(|&b| ir::BlockCall::new(b, [], pool))
            .collect();
        let jt = self
            .b
            .create_jump_table(ir::JumpTableData::new(default_call, &calls));
        self.b.ins().br_table(index, jt);
        for (edge, target, height) in edge_blocks {
            self.b.switch_to_block(edge);
            self.b.seal_block(edge);
            if self.labels_in_slots() {
                self.move_to_label(height, n)?;
            }
            self.b.ins().jump(target, &args);
        }
        self.reachable = false;
        Ok(())
    }

    /// `unreachable`, and calls that never return.
    pub fn op_trap(&mut self, code: TrapCode) {
        if !self.reachable {
            return;
        }
        self.trap_now(code);
        self.reachable = false;
    }

    /// A Wasm `i32` boolean from a Cranelift comparison result.
    pub fn bool_to_i32(&mut self, b: Value) -> Value {
        self.b.ins().uextend(I32, b)
    }
}
