//! The host API under random use: a contract generated from the input
//! imports every host function of `docs/host-api.md` and calls them in a
//! random sequence with arguments from pools that hit the edges (offsets
//! at and past the end of memory, registers that are unset or beyond the
//! register limit, lengths past the limits, the other contract's id, gas
//! from none to all). Two copies of it are deployed on a chain, then the
//! input's transactions (calls and views, with attached tokens) run.
//!
//! Nothing may panic; a call that traps or is refused, and every view,
//! leaves the whole store exactly as it was; and the same program run on
//! a fresh chain gives the same receipts, errors and final store.

use std::sync::Arc;

use detvm_host::{
    Account, CallContext, Chain, HOST_FUNCTIONS, HOST_MODULE, MemoryStorage, REENTRANT_EXPORT,
    Storage, account_key,
};
use detvm_vm::ValType as HostType;
use wasm_encoder::{
    CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection, Function,
    FunctionSection, ImportSection, Instruction as I, MemorySection, MemoryType, Module,
    TypeSection, ValType,
};

/// A broken promise of the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostFinding {
    /// A trapped or refused call, or a view, changed the store.
    #[error("transaction {index} ({what}) changed the store")]
    Changed {
        /// Its position in the program.
        index: usize,
        /// What it was and how it ended.
        what: String,
    },
    /// Two runs of the same program differ.
    #[error("two runs differ at {at}: {first} vs {second}")]
    Nondeterministic {
        /// Where.
        at: String,
        /// The first run's.
        first: String,
        /// The second run's.
        second: String,
    },
    /// The chain could not be set up (deploy of a valid contract refused).
    #[error("setup failed: {0}")]
    Setup(String),
}

/// Where the method copies its input: the other contract's id (40
/// bytes), then a method name (2 bytes), then the rest.
const INPUT_AT: i32 = 0;
/// Where the input's data segment starts.
const DATA_AT: i32 = 1024;
/// Accounts transactions come from: funded, unfunded, invalid.
const CALLERS: [&str; 3] = ["alice", "bob", "not an account!"];
/// Methods transactions name: the generated ones, one that is not there.
const METHODS: [&str; 4] = ["m0", "m1", "m2", "nope"];

/// One host call of a generated method.
#[derive(Debug, Clone)]
struct HostCall {
    function: u32,
    args: Vec<I<'static>>,
}

/// One transaction of the program.
#[derive(Debug, Clone)]
struct Transaction {
    to_second: bool,
    method: &'static str,
    caller: &'static str,
    gas: u64,
    amount: u128,
    view: bool,
    input_tail: Vec<u8>,
}

/// The contract and the transactions an input stands for.
#[derive(Debug, Clone)]
pub struct Program {
    code: Vec<u8>,
    transactions: Vec<Transaction>,
}

fn i32_arg(u: &mut arbitrary::Unstructured<'_>) -> i32 {
    match u.int_in_range(0..=11).unwrap_or(0) {
        0 => INPUT_AT,
        1 => 40,
        2 => 42,
        3 => DATA_AT + i32::from(u.int_in_range(0..=64u8).unwrap_or(0)),
        4 => 2,
        5 => 16,
        6 => 32,
        7 => 64,
        8 => 65_535,
        9 => 65_536,
        10 => -1,
        _ => u.arbitrary().unwrap_or(0),
    }
}

fn i64_arg(u: &mut arbitrary::Unstructured<'_>, gas: bool) -> i64 {
    match u.int_in_range(0..=5).unwrap_or(0) {
        0..=2 if !gas => i64::from(u.int_in_range(0..=3u8).unwrap_or(0)),
        0 => 0,
        1 => 50_000,
        2 => 5_000_000,
        3 => 64,
        4 => -1,
        _ => u.arbitrary().unwrap_or(0),
    }
}

fn wasm_type(t: &HostType) -> ValType {
    match t {
        HostType::I32 => ValType::I32,
        HostType::I64 => ValType::I64,
        HostType::F32 => ValType::F32,
        HostType::F64 => ValType::F64,
        HostType::FuncRef => ValType::FUNCREF,
        HostType::ExternRef => ValType::EXTERNREF,
    }
}

impl Program {
    /// The program `data` stands for.
    pub fn from_input(data: &[u8]) -> Self {
        let mut u = arbitrary::Unstructured::new(data);
        let functions = HOST_FUNCTIONS.len() as u32;
        let call_contract = HOST_FUNCTIONS
            .iter()
            .position(|f| f.name == "call_contract")
            .map(|i| i as u32);
        let methods: Vec<(Vec<HostCall>, u8)> = (0..3)
            .map(|_| {
                let count = u.int_in_range(0..=6).unwrap_or(0);
                let calls = (0..count)
                    .map(|_| {
                        let function = u.int_in_range(0..=functions - 1).unwrap_or(0);
                        let params = HOST_FUNCTIONS[function as usize].params;
                        let args = params
                            .iter()
                            .enumerate()
                            .map(|(i, t)| match t {
                                HostType::I64 => {
                                    // `call_contract`'s gas is its 8th parameter.
                                    let gas = Some(function) == call_contract && i == 7;
                                    I::I64Const(i64_arg(&mut u, gas))
                                }
                                _ => I::I32Const(i32_arg(&mut u)),
                            })
                            .collect();
                        HostCall { function, args }
                    })
                    .collect();
                // 0: return; 1: trap; 2: loop until out of gas.
                let ending = match u.int_in_range(0..=7).unwrap_or(0) {
                    0 => 1,
                    1 => 2,
                    _ => 0,
                };
                (calls, ending)
            })
            .collect();
        let data_len = u.int_in_range(0..=256).unwrap_or(0);
        let data: Vec<u8> = (0..data_len).map(|_| u.arbitrary().unwrap_or(0)).collect();
        let reentrant = u.arbitrary().unwrap_or(false);
        let code = contract(&methods, &data, reentrant);
        let count = u.int_in_range(1..=8).unwrap_or(1);
        let transactions = (0..count)
            .map(|_| Transaction {
                to_second: u.arbitrary().unwrap_or(false),
                // Mostly calls that run; refusals now and then.
                method: METHODS[usize::from(u.int_in_range(0..=12u8).unwrap_or(0) / 4)],
                caller: CALLERS[match u.int_in_range(0..=9u8).unwrap_or(0) {
                    0..=6 => 0,
                    7 | 8 => 1,
                    _ => 2,
                }],
                gas: match u.int_in_range(0..=3).unwrap_or(0) {
                    0 => u.int_in_range(0..=100_000).unwrap_or(0),
                    1 => 1_000_000,
                    _ => 50_000_000,
                },
                amount: match u.int_in_range(0..=7).unwrap_or(0) {
                    0 | 1 => u128::from(u.int_in_range(1..=1_000u16).unwrap_or(1)),
                    2 => u128::MAX,
                    _ => 0,
                },
                view: u.int_in_range(0..=4).unwrap_or(0) == 0,
                input_tail: {
                    let len = u.int_in_range(0..=32).unwrap_or(0);
                    (0..len).map(|_| u.arbitrary().unwrap_or(0)).collect()
                },
            })
            .collect();
        Self { code, transactions }
    }
}

/// The generated contract: every host function imported, methods `m0`,
/// `m1`, `m2` of the given host calls and endings, `data` at
/// [`DATA_AT`].
fn contract(methods: &[(Vec<HostCall>, u8)], data: &[u8], reentrant: bool) -> Vec<u8> {
    let mut types = TypeSection::new();
    let mut imports = ImportSection::new();
    for (index, f) in HOST_FUNCTIONS.iter().enumerate() {
        types.ty().function(
            f.params.iter().map(wasm_type),
            f.results.iter().map(wasm_type),
        );
        imports.import(HOST_MODULE, f.name, EntityType::Function(index as u32));
    }
    let method_type = HOST_FUNCTIONS.len() as u32;
    types.ty().function([], []);
    let imported = HOST_FUNCTIONS.len() as u32;
    let input = HOST_FUNCTIONS.iter().position(|f| f.name == "input");
    let read = HOST_FUNCTIONS
        .iter()
        .position(|f| f.name == "read_register");
    let mut functions = FunctionSection::new();
    let mut exports = ExportSection::new();
    let mut code = CodeSection::new();
    for (i, (calls, ending)) in methods.iter().enumerate() {
        functions.function(method_type);
        exports.export(&format!("m{i}"), ExportKind::Func, imported + i as u32);
        let mut f = Function::new([]);
        // The input (the other contract's id first) into memory at 0.
        if let (Some(input), Some(read)) = (input, read) {
            f.instruction(&I::I64Const(0));
            f.instruction(&I::Call(input as u32));
            f.instruction(&I::I64Const(0));
            f.instruction(&I::I32Const(INPUT_AT));
            f.instruction(&I::Call(read as u32));
        }
        for call in calls {
            for arg in &call.args {
                f.instruction(arg);
            }
            f.instruction(&I::Call(call.function));
            for _ in HOST_FUNCTIONS[call.function as usize].results {
                f.instruction(&I::Drop);
            }
        }
        match ending {
            1 => {
                f.instruction(&I::Unreachable);
            }
            2 => {
                f.instruction(&I::Loop(wasm_encoder::BlockType::Empty));
                f.instruction(&I::Br(0));
                f.instruction(&I::End);
            }
            _ => {}
        }
        f.instruction(&I::End);
        code.function(&f);
    }
    if reentrant {
        exports.export(REENTRANT_EXPORT, ExportKind::Func, imported);
    }
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: Some(2),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    exports.export("memory", ExportKind::Memory, 0);
    let mut segments = DataSection::new();
    segments.active(0, &ConstExpr::i32_const(DATA_AT), data.iter().copied());
    let mut module = Module::new();
    module
        .section(&types)
        .section(&imports)
        .section(&functions)
        .section(&memories)
        .section(&exports)
        .section(&code)
        .section(&segments);
    module.finish()
}

/// How a program's transactions ended (first run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Calls and views that returned.
    pub returned: u64,
    /// Calls and views that trapped.
    pub trapped: u64,
    /// Transactions refused before running.
    pub refused: u64,
}

/// Everything one run produced, as text that compares exactly.
fn run(program: &Program) -> Result<(Vec<String>, Summary), HostFinding> {
    let storage = Arc::new(MemoryStorage::new());
    let dyn_storage: Arc<dyn Storage> = storage.clone();
    let setup = |e: &dyn std::fmt::Display| HostFinding::Setup(e.to_string());
    let mut chain = Chain::with_storage(dyn_storage).map_err(|e| setup(&e))?;
    let funded = Account {
        balance: 1_000_000,
        ..Account::default()
    };
    let record = borsh::to_vec(&funded).map_err(|e| setup(&e))?;
    storage
        .set(&account_key("alice"), &record)
        .map_err(|e| setup(&e))?;
    let snapshot = || storage.scan_prefix(b"").map_err(|e| setup(&e));
    let mut transcript = Vec::new();
    let mut summary = Summary::default();
    let mut ids = Vec::new();
    for from in ["alice", "bob"] {
        match chain.deploy(&program.code, from) {
            Ok(receipt) => ids.push(receipt.contract),
            // The generated code is valid and within the limits.
            Err(e) => return Err(setup(&format!("deploy: {e}"))),
        }
    }
    for (index, tx) in program.transactions.iter().enumerate() {
        let (to, other) = match tx.to_second {
            false => (&ids[0], &ids[1]),
            true => (&ids[1], &ids[0]),
        };
        let mut input = other.as_str().as_bytes().to_vec();
        input.extend_from_slice(b"m1");
        input.extend_from_slice(&tx.input_tail);
        let ctx = CallContext {
            caller: tx.caller.to_owned(),
            gas: tx.gas,
            block_height: 7 + index as u64,
            block_timestamp: 1_000_000 * index as u64,
            amount: tx.amount,
        };
        let before = snapshot()?;
        let result = match tx.view {
            true => chain.view(to, tx.method, &input, &ctx),
            false => chain.call(to, tx.method, &input, &ctx),
        };
        match &result {
            Ok(receipt) if receipt.is_success() => summary.returned += 1,
            Ok(_) => summary.trapped += 1,
            Err(_) => summary.refused += 1,
        }
        let (kept, what) = match &result {
            Ok(receipt) => (
                receipt.is_success() && !tx.view,
                format!("receipt {:?}", receipt.hash()),
            ),
            Err(error) => (false, format!("error {}: {error}", error.kind())),
        };
        if !kept && snapshot()? != before {
            return Err(HostFinding::Changed {
                index,
                what: format!("{tx:?}: {what}"),
            });
        }
        transcript.push(what);
    }
    transcript.push(format!("final store {:?}", snapshot()?));
    Ok((transcript, summary))
}

/// Runs the program `data` stands for twice, each on a fresh chain.
pub fn check(data: &[u8]) -> Result<Summary, HostFinding> {
    let program = Program::from_input(data);
    let (first, summary) = run(&program)?;
    let (second, _) = run(&program)?;
    if let Some((at, (a, b))) = first
        .iter()
        .zip(&second)
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        return Err(HostFinding::Nondeterministic {
            at: format!("entry {at}"),
            first: a.clone(),
            second: b.clone(),
        });
    }
    Ok(summary)
}
