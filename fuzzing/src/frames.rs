//! Deep and wide native frames against the native stack rule
//! (`docs/vm.md`, native frames and native stack): whatever a module's
//! frames look like, recursion ends in a deterministic trap
//! (`stack_overflow` or `out_of_gas`), on a thread with exactly the
//! documented stack, or the call is refused before anything runs
//! (`native_stack_too_small`). Never `native_stack_exhausted`, never a
//! signal: a signal ends the whole process, which the fuzzer reports.
//!
//! Modules come from the adversarial frame corpus of `detvm-fixtures` at a
//! size the input chooses, or from [`generated`]: a recursive function
//! whose locals, operand stack, calls and signatures the input shapes.

use detvm_fixtures::Lcg;
use detvm_fixtures::adversarial::{self, EXPORT};
use detvm_vm::{
    Engine, Error, Instance, Linker, Module, Outcome, Store, TrapKind, Value, native_stack,
};
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, ElementSection, Elements, ExportKind, ExportSection,
    Function, FunctionSection, GlobalSection, GlobalType, Instruction as I, MemorySection,
    MemoryType, Module as Encoded, RefType, TableSection, TableType, TypeSection, ValType,
};

/// Native stack beyond the documented need for the test's own frames
/// above the call (store, instance, call path).
pub const OWN_FRAMES: u64 = 128 << 10;

/// A broken promise of the native stack rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameFinding {
    /// A call ended otherwise than in a result, a stack or gas trap, or a
    /// refusal for a too small stack.
    #[error("{what}: {outcome}")]
    Ended {
        /// The module and call.
        what: String,
        /// How it ended.
        outcome: String,
    },
    /// The same call ended differently on a large and a minimal stack.
    #[error("{what}: {large} with a large stack, {minimum} with the minimum")]
    Differs {
        /// The module and call.
        what: String,
        /// On the large stack.
        large: String,
        /// On the minimal stack.
        minimum: String,
    },
}

/// The shape of a generated recursive function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Extra parameters of the recursive function, by type code (0..4).
    pub params: Vec<u8>,
    /// Declared locals, by type code, set before and read after the
    /// recursive call.
    pub locals: Vec<u8>,
    /// Values left on the operand stack across the recursive call.
    pub stack: Vec<u8>,
    /// Calls to an empty function with one value live across each.
    pub calls: u32,
    /// Recurse through `call_indirect` instead of `call`.
    pub indirect: bool,
}

fn ty(code: u8) -> ValType {
    [ValType::I32, ValType::I64, ValType::F32, ValType::F64][usize::from(code % 4)]
}

fn constant(code: u8, n: u32) -> I<'static> {
    match code % 4 {
        0 => I::I32Const(n as i32),
        1 => I::I64Const(i64::from(n)),
        2 => I::F32Const((n as f32).into()),
        _ => I::F64Const(f64::from(n).into()),
    }
}

/// Folds the value of type `code` on top of the stack into global 0.
fn fold(f: &mut Function, code: u8) {
    match code % 4 {
        0 => {
            f.instruction(&I::I64ExtendI32U);
        }
        1 => {}
        2 => {
            f.instruction(&I::I32ReinterpretF32);
            f.instruction(&I::I64ExtendI32U);
        }
        _ => {
            f.instruction(&I::I64ReinterpretF64);
        }
    }
    f.instruction(&I::GlobalGet(0));
    f.instruction(&I::I64Xor);
    f.instruction(&I::GlobalSet(0));
}

impl Frame {
    /// A shape from `u`, at most about `budget` items in all.
    pub fn arbitrary(u: &mut arbitrary::Unstructured<'_>, budget: u32) -> Self {
        let mut rng = Lcg::new(u.arbitrary().unwrap_or(0));
        let mut draw = |max: u32, u: &mut arbitrary::Unstructured<'_>| {
            let scale: u32 = u.int_in_range(0..=max).unwrap_or(0);
            (0..scale).map(|_| rng.below(4) as u8).collect::<Vec<u8>>()
        };
        let params = draw(70, u);
        let locals = draw(budget.min(4_200), u);
        let stack = draw(budget, u);
        Self {
            params,
            locals,
            stack,
            calls: u.int_in_range(0..=budget).unwrap_or(0),
            indirect: u.arbitrary().unwrap_or(false),
        }
    }

    /// The module: export [`EXPORT`] `(depth: i32) -> i32` recursing
    /// `depth` times through function 1 of this shape, returning `depth`.
    pub fn module(&self) -> Vec<u8> {
        let mut types = TypeSection::new();
        // 0: the exported entry; 1: the recursive function; 2: empty.
        types.ty().function([ValType::I32], [ValType::I32]);
        let mut params = vec![ValType::I32];
        params.extend(self.params.iter().map(|&c| ty(c)));
        types.ty().function(params.clone(), [ValType::I32]);
        types.ty().function([], []);
        let mut functions = FunctionSection::new();
        functions.function(0).function(1).function(2);
        let mut tables = TableSection::new();
        tables.table(TableType {
            element_type: RefType::FUNCREF,
            table64: false,
            minimum: 1,
            maximum: Some(1),
            shared: false,
        });
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: Some(1),
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut globals = GlobalSection::new();
        globals.global(
            GlobalType {
                val_type: ValType::I64,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i64_const(0),
        );
        let mut exports = ExportSection::new();
        exports.export(EXPORT, ExportKind::Func, 0);
        let mut elements = ElementSection::new();
        elements.active(
            Some(0),
            &ConstExpr::i32_const(0),
            Elements::Functions(std::borrow::Cow::Borrowed(&[1])),
        );

        let mut code = CodeSection::new();
        // The entry passes the depth and constants for the extra params.
        let mut entry = Function::new([]);
        entry.instruction(&I::LocalGet(0));
        for (i, &c) in self.params.iter().enumerate() {
            entry.instruction(&constant(c, i as u32));
        }
        entry.instruction(&I::Call(1));
        entry.instruction(&I::End);
        code.function(&entry);

        let first_local = params.len() as u32;
        let mut f = Function::new(self.locals.iter().map(|&c| (1, ty(c))));
        for (i, &c) in self.locals.iter().enumerate() {
            f.instruction(&constant(c, i as u32));
            f.instruction(&I::LocalSet(first_local + i as u32));
        }
        for (i, &c) in self.stack.iter().enumerate() {
            f.instruction(&constant(c, i as u32));
        }
        // One f64 live across every call to the empty function.
        if self.calls > 0 {
            f.instruction(&I::F64Const(1.5.into()));
            for _ in 0..self.calls {
                f.instruction(&I::Call(2));
                f.instruction(&I::F64Neg);
            }
            fold(&mut f, 3);
        }
        f.instruction(&I::LocalGet(0));
        f.instruction(&I::I32Eqz);
        f.instruction(&I::If(BlockType::Result(ValType::I32)));
        f.instruction(&I::I32Const(0));
        f.instruction(&I::Else);
        f.instruction(&I::LocalGet(0));
        f.instruction(&I::I32Const(1));
        f.instruction(&I::I32Sub);
        for index in 1..first_local {
            f.instruction(&I::LocalGet(index));
        }
        if self.indirect {
            f.instruction(&I::I32Const(0));
            f.instruction(&I::CallIndirect {
                type_index: 1,
                table_index: 0,
            });
        } else {
            f.instruction(&I::Call(1));
        }
        f.instruction(&I::I32Const(1));
        f.instruction(&I::I32Add);
        f.instruction(&I::End);
        // The result goes below the held values' folds: keep it in
        // local 0, which the recursion no longer needs.
        f.instruction(&I::LocalSet(0));
        for &c in self.stack.iter().rev() {
            fold(&mut f, c);
        }
        for (i, &c) in self.locals.iter().enumerate() {
            f.instruction(&I::LocalGet(first_local + i as u32));
            fold(&mut f, c);
        }
        for (i, &c) in self.params.iter().enumerate() {
            f.instruction(&I::LocalGet(1 + i as u32));
            fold(&mut f, c);
        }
        f.instruction(&I::LocalGet(0));
        f.instruction(&I::End);
        code.function(&f);
        let mut empty = Function::new([]);
        empty.instruction(&I::End);
        code.function(&empty);

        let mut module = Encoded::new();
        module
            .section(&types)
            .section(&functions)
            .section(&tables)
            .section(&memories)
            .section(&globals)
            .section(&exports)
            .section(&elements)
            .section(&code);
        module.finish()
    }
}

/// A module from the input: a corpus shape at a size it chooses, or a
/// generated [`Frame`]. Sizes stay far below the contract limits'
/// largest so that one input compiles in well under a second.
pub fn module_from(data: &[u8]) -> (String, Vec<u8>) {
    let mut u = arbitrary::Unstructured::new(data);
    let corpus = adversarial::frame_corpus();
    let pick: usize = u.int_in_range(0..=corpus.len()).unwrap_or(0);
    match corpus.get(pick) {
        Some(shape) => {
            let n = u.int_in_range(1..=shape.cap.min(4_000)).unwrap_or(1);
            (format!("{} at n = {n}", shape.name), shape.module(n))
        }
        None => {
            let frame = Frame::arbitrary(&mut u, 3_000);
            (
                format!(
                    "generated: {} params, {} locals, {} held, {} calls, indirect {}",
                    frame.params.len(),
                    frame.locals.len(),
                    frame.stack.len(),
                    frame.calls,
                    frame.indirect
                ),
                frame.module(),
            )
        }
    }
}

fn describe(result: &Result<Outcome, Error>) -> String {
    match result {
        Ok(Outcome::Success { results, gas_used }) => format!("{results:?}, {gas_used} gas"),
        Ok(Outcome::Trap { kind, gas_used, .. }) => format!("{} after {gas_used} gas", kind.name()),
        Err(error) => format!("error {}", error.kind()),
    }
}

/// Compiles the module `data` stands for and calls it recursively to a
/// depth and with gas from the input, once on a thread with plenty of
/// stack and once with exactly the documented minimum.
pub fn check(data: &[u8]) -> Result<(), FrameFinding> {
    let (name, bytes) = module_from(data);
    let tail = data.get(data.len().saturating_sub(9)..).unwrap_or(&[]);
    let mut u = arbitrary::Unstructured::new(tail);
    let depth = match u.int_in_range(0..=3).unwrap_or(0) {
        0 => u.int_in_range(0..=8).unwrap_or(0),
        _ => adversarial::RECURSE_DEPTH,
    };
    let gas: u64 = match u.arbitrary::<u32>().unwrap_or(0) {
        0 => u64::MAX,
        g => u64::from(g) << 8,
    };
    let engine = Engine::default();
    let Ok(module) = Module::new(&engine, &bytes) else {
        return Ok(());
    };
    let what = format!("{name}, depth {depth}, gas {gas}");
    let needed = module.native_stack_needed();
    let run = |stack: u64| {
        let module = module.clone();
        crate::on_big_stack(stack as usize, move || {
            let engine = module.engine().clone();
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &Linker::new(&engine))?;
            instance.call(&mut store, EXPORT, &[Value::I32(depth)], gas)
        })
    };
    let large = run(native_stack::HOST_RESERVE + needed + (16 << 20));
    let acceptable = |result: &Result<Outcome, Error>| match result {
        Ok(Outcome::Success { results, .. }) => results == &[Value::I32(depth)],
        Ok(Outcome::Trap { kind, .. }) => {
            matches!(kind, TrapKind::StackOverflow | TrapKind::OutOfGas)
        }
        Err(Error::NativeStackTooSmall { .. }) => true,
        Err(_) => false,
    };
    if !acceptable(&large) || matches!(large, Err(Error::NativeStackTooSmall { .. })) {
        return Err(FrameFinding::Ended {
            what,
            outcome: describe(&large),
        });
    }
    let minimum = run(native_stack::HOST_RESERVE + needed + OWN_FRAMES);
    if !acceptable(&minimum) {
        return Err(FrameFinding::Ended {
            what: format!("{what} (minimum stack)"),
            outcome: describe(&minimum),
        });
    }
    if !matches!(minimum, Err(Error::NativeStackTooSmall { .. }))
        && describe(&minimum) != describe(&large)
    {
        return Err(FrameFinding::Differs {
            what,
            large: describe(&large),
            minimum: describe(&minimum),
        });
    }
    Ok(())
}
