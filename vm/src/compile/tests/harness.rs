//! A minimal instance for driving compiled code directly: memory, tables,
//! globals, function references, builtins and host functions, laid out as
//! `vmctx.rs` says.

use std::ffi::c_void;
use std::sync::OnceLock;

use wasmparser::ExternalKind;

use detvm_metering::ChargeSite;

use crate::compile::charges::by_shape;
use crate::compile::{
    CodegenConfig, CompiledCode, OptLevel, TargetIsas, compile_and_load, make_isas,
};
use crate::env::{ConstOp, ElementMode, ImportKind, ModuleEnv};
use crate::runtime::memory::MemoryData;
use crate::vmctx::{
    TrapCode, VMBuiltins, VMContext, VMFuncRef, VMGlobal, VMHostContext, VMRuntime, VMTable, ValRaw,
};

/// A host function for tests: arguments in, results or a trap out.
pub type HostFn = Box<dyn Fn(&[u64]) -> Option<Vec<u64>>>;

struct Host {
    f: HostFn,
    params: usize,
    results: usize,
}

const PAGE: usize = 65536;
/// Memory growth cap in tests, in pages.
const MAX_PAGES: u64 = 1024;
const MAX_TABLE: u64 = 10_000;

struct State {
    env: ModuleEnv,
    wasm: Vec<u8>,
    runtime: VMRuntime,
    builtins: VMBuiltins,
    mem: Box<MemoryData>,
    max_pages: u64,
    global_cells: Vec<VMGlobal>,
    global_ptrs: Vec<*mut VMGlobal>,
    tables: Vec<VMTable>,
    table_elems: Vec<Vec<usize>>,
    table_ptrs: Vec<*mut VMTable>,
    funcs: Vec<VMFuncRef>,
    type_ids: Vec<u32>,
    // Boxed so their addresses, which compiled code holds, stay fixed.
    #[allow(clippy::vec_box)]
    hosts: Vec<Box<Host>>,
    #[allow(clippy::vec_box)]
    host_ctxs: Vec<Box<VMHostContext>>,
    data_dropped: Vec<bool>,
    elem_dropped: Vec<bool>,
    vmctx: VMContext,
}

/// A compiled and instantiated test module.
pub struct Instance {
    // Declared before `code`: the state points into the code, so it goes
    // first.
    state: Box<State>,
    code: CompiledCode,
}

fn isa(opt: OptLevel) -> &'static TargetIsas {
    isa_with(opt, true)
}

/// The verifying ISAs at `opt`, with or without counted loops charged once.
fn isa_with(opt: OptLevel, prepay_loops: bool) -> &'static TargetIsas {
    static CELLS: [OnceLock<TargetIsas>; 4] = [const { OnceLock::new() }; 4];
    let index = match opt {
        OptLevel::None => 0,
        OptLevel::Speed => 1,
    } + if prepay_loops { 0 } else { 2 };
    CELLS[index].get_or_init(|| {
        make_isas(&CodegenConfig {
            opt_level: opt,
            verify: true,
            metering: true,
            prepay_loops,
            slot_strategy_only: false,
            faulting_accesses: true,
        })
        .expect("host ISA")
    })
}

/// The production ISA (no IR verifier), for timing.
fn isa_unverified(opt: OptLevel) -> &'static TargetIsas {
    static NONE: OnceLock<TargetIsas> = OnceLock::new();
    static SPEED: OnceLock<TargetIsas> = OnceLock::new();
    let cell = match opt {
        OptLevel::None => &NONE,
        OptLevel::Speed => &SPEED,
    };
    cell.get_or_init(|| {
        make_isas(&CodegenConfig {
            opt_level: opt,
            verify: false,
            metering: true,
            prepay_loops: true,
            slot_strategy_only: false,
            faulting_accesses: true,
        })
        .expect("host ISA")
    })
}

/// Compiles `bytes` at `opt` as the engine does (without the verifier).
pub fn compile_unverified(
    bytes: &[u8],
    opt: OptLevel,
) -> Result<CompiledCode, crate::compile::CompileError> {
    let env = env_of(bytes);
    compile_and_load(
        isa_unverified(opt),
        &env,
        bytes,
        None,
        charges_of(&env, bytes).as_deref(),
    )
}

/// The structure of a test module. These tests write instrumentation's
/// shape by hand, so a module counts as instrumented when it carries the
/// `detvm` imports at the front.
fn env_of(bytes: &[u8]) -> ModuleEnv {
    let mut env = ModuleEnv::parse(bytes, false).expect("module structure");
    env.instrumented = env.has_reserved_imports();
    env
}

thread_local! {
    /// Set inside [`without_sites`].
    static WITHHOLD_SITES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with no charge site handed to any compilation in it: every
/// fixed charge then takes the general lowering, as a shape that
/// instrumentation did not report must.
pub fn without_sites<R>(f: impl FnOnce() -> R) -> R {
    WITHHOLD_SITES.with(|w| w.set(true));
    let result = f();
    WITHHOLD_SITES.with(|w| w.set(false));
    result
}

/// The charge sites instrumentation would have handed on with `bytes`.
fn charges_of(env: &ModuleEnv, bytes: &[u8]) -> Option<Vec<Vec<ChargeSite>>> {
    if !env.instrumented {
        return None;
    }
    if WITHHOLD_SITES.with(|w| w.get()) {
        return Some(vec![Vec::new(); env.bodies.len()]);
    }
    Some(by_shape::of_module(bytes))
}

/// The CLIF of every defined function of `bytes`, compiled as [`compile`]
/// does at `Speed`.
fn clif_of(bytes: &[u8]) -> Vec<crate::compile::FunctionClif> {
    let env = env_of(bytes);
    let charges = charges_of(&env, bytes);
    let mut clif = Vec::new();
    let isas = isa(OptLevel::Speed);
    crate::compile::compile_module(isas, &env, bytes, None, charges.as_deref(), Some(&mut clif))
        .expect("compiles");
    clif
}

/// The CLIF of every defined function of `bytes` as translated (before
/// Cranelift's passes), compiled as [`compile`] does at `Speed`.
pub fn translated_clif(bytes: &[u8]) -> Vec<String> {
    clif_of(bytes).into_iter().map(|f| f.translated).collect()
}

/// The CLIF of every defined function of `bytes` after Cranelift's passes,
/// compiled as [`compile`] does at `Speed`.
pub fn optimised_clif(bytes: &[u8]) -> Vec<String> {
    clif_of(bytes).into_iter().map(|f| f.optimised).collect()
}

/// Both optimisation levels: every semantic test runs under each.
pub const OPTS: [OptLevel; 2] = [OptLevel::None, OptLevel::Speed];

/// Compiles `bytes` at `opt`.
pub fn compile(bytes: &[u8], opt: OptLevel) -> Result<CompiledCode, crate::compile::CompileError> {
    let env = env_of(bytes);
    compile_and_load(
        isa(opt),
        &env,
        bytes,
        None,
        charges_of(&env, bytes).as_deref(),
    )
}

fn set_trap(vmctx: *mut VMContext, code: TrapCode) {
    // SAFETY: builtins are only called by compiled code with the vmctx of a
    // live test instance, whose runtime pointer is valid.
    unsafe { (*(*vmctx).runtime).trap_code = code as u32 };
}

fn state<'a>(vmctx: *mut VMContext) -> &'a mut State {
    // SAFETY: `instance` points at the boxed `State` that owns this vmctx;
    // the test drives one call at a time, and the caller in `Instance::call`
    // holds only a raw pointer while compiled code runs.
    unsafe { &mut *((*vmctx).instance as *mut State) }
}

fn in_bounds(start: u32, len: u32, size: usize) -> bool {
    u64::from(start) + u64::from(len) <= size as u64
}

extern "C" fn memory_grow(vmctx: *mut VMContext, delta: u32) -> u32 {
    let st = state(vmctx);
    // The runtime's own memory: its layout is what faulting loads need.
    st.mem
        .grow(u64::from(delta))
        .map_or(u32::MAX, |old| old as u32)
}

extern "C" fn memory_fill(vmctx: *mut VMContext, dst: u32, val: u32, len: u32) {
    let st = state(vmctx);
    let mem = st.mem.bytes_mut();
    if !in_bounds(dst, len, mem.len()) {
        return set_trap(vmctx, TrapCode::MemoryOutOfBounds);
    }
    mem[dst as usize..(dst + len) as usize].fill(val as u8);
}

extern "C" fn memory_copy(vmctx: *mut VMContext, dst: u32, src: u32, len: u32) {
    let st = state(vmctx);
    let mem = st.mem.bytes_mut();
    if !in_bounds(dst, len, mem.len()) || !in_bounds(src, len, mem.len()) {
        return set_trap(vmctx, TrapCode::MemoryOutOfBounds);
    }
    mem.copy_within(src as usize..(src + len) as usize, dst as usize);
}

extern "C" fn memory_init(vmctx: *mut VMContext, seg: u32, dst: u32, src: u32, len: u32) {
    let st = state(vmctx);
    let range = st.env.data[seg as usize].bytes.clone();
    let data: Vec<u8> = if st.data_dropped[seg as usize] {
        Vec::new()
    } else {
        st.wasm[range].to_vec()
    };
    let mem = st.mem.bytes_mut();
    if !in_bounds(dst, len, mem.len()) || !in_bounds(src, len, data.len()) {
        return set_trap(vmctx, TrapCode::MemoryOutOfBounds);
    }
    mem[dst as usize..(dst + len) as usize]
        .copy_from_slice(&data[src as usize..(src + len) as usize]);
}

extern "C" fn data_drop(vmctx: *mut VMContext, seg: u32) {
    state(vmctx).data_dropped[seg as usize] = true;
}

fn sync_table(st: &mut State, t: usize) {
    st.tables[t].elements = st.table_elems[t].as_mut_ptr();
    st.tables[t].length = st.table_elems[t].len() as u64;
}

extern "C" fn table_grow(vmctx: *mut VMContext, table: u32, init: usize, delta: u32) -> u32 {
    let st = state(vmctx);
    let t = table as usize;
    let old = st.table_elems[t].len();
    let new = old as u64 + u64::from(delta);
    let max = st.env.tables[t].maximum.unwrap_or(MAX_TABLE).min(MAX_TABLE);
    if new > max {
        return u32::MAX;
    }
    st.table_elems[t].resize(new as usize, init);
    sync_table(st, t);
    old as u32
}

extern "C" fn table_fill(vmctx: *mut VMContext, table: u32, dst: u32, val: usize, len: u32) {
    let st = state(vmctx);
    let t = table as usize;
    if !in_bounds(dst, len, st.table_elems[t].len()) {
        return set_trap(vmctx, TrapCode::TableOutOfBounds);
    }
    st.table_elems[t][dst as usize..(dst + len) as usize].fill(val);
}

extern "C" fn table_copy(
    vmctx: *mut VMContext,
    dst_table: u32,
    src_table: u32,
    dst: u32,
    src: u32,
    len: u32,
) {
    let st = state(vmctx);
    let (d, s) = (dst_table as usize, src_table as usize);
    if !in_bounds(dst, len, st.table_elems[d].len())
        || !in_bounds(src, len, st.table_elems[s].len())
    {
        return set_trap(vmctx, TrapCode::TableOutOfBounds);
    }
    let items: Vec<usize> = st.table_elems[s][src as usize..(src + len) as usize].to_vec();
    st.table_elems[d][dst as usize..(dst + len) as usize].copy_from_slice(&items);
}

fn const_value(st: &State, op: &ConstOp) -> u64 {
    match *op {
        ConstOp::I32(v) => u64::from(v as u32),
        ConstOp::I64(v) => v as u64,
        ConstOp::F32(b) => u64::from(b),
        ConstOp::F64(b) => b,
        ConstOp::RefNull(_) => 0,
        ConstOp::RefFunc(f) => &st.funcs[f as usize] as *const VMFuncRef as u64,
        ConstOp::GlobalGet(g) => {
            // SAFETY: global pointers point into `global_cells`.
            let cell = unsafe { &*st.global_ptrs[g as usize] };
            u64::from_le_bytes(cell.bytes[..8].try_into().expect("8 bytes"))
        }
    }
}

extern "C" fn table_init(
    vmctx: *mut VMContext,
    table: u32,
    seg: u32,
    dst: u32,
    src: u32,
    len: u32,
) {
    let st = state(vmctx);
    let items: Vec<usize> = if st.elem_dropped[seg as usize] {
        Vec::new()
    } else {
        st.env.elements[seg as usize]
            .items
            .iter()
            .map(|op| const_value(st, op) as usize)
            .collect()
    };
    let t = table as usize;
    if !in_bounds(dst, len, st.table_elems[t].len()) || !in_bounds(src, len, items.len()) {
        return set_trap(vmctx, TrapCode::TableOutOfBounds);
    }
    st.table_elems[t][dst as usize..(dst + len) as usize]
        .copy_from_slice(&items[src as usize..(src + len) as usize]);
}

extern "C" fn elem_drop(vmctx: *mut VMContext, seg: u32) {
    state(vmctx).elem_dropped[seg as usize] = true;
}

thread_local! {
    /// The `VMRuntime` of the host call in progress on this thread.
    static HOST_RUNTIME: std::cell::Cell<*mut VMRuntime> =
        const { std::cell::Cell::new(std::ptr::null_mut()) };
}

/// Inside a host function: the calling instance's `detvm` counters, as
/// `(gas_left, stack_left)`, for the host to read and change.
///
/// # Panics
/// Outside a host function.
pub fn with_host_counters<R>(f: impl FnOnce(&mut i64, &mut i64) -> R) -> R {
    let runtime = HOST_RUNTIME.with(|r| r.get());
    assert!(!runtime.is_null(), "not inside a host function");
    // SAFETY: set by `call_host` to the live runtime of the instance whose
    // compiled code is suspended in this host call.
    let runtime = unsafe { &mut *runtime };
    f(&mut runtime.gas_left, &mut runtime.stack_left)
}

extern "C" fn call_host(ctx: *mut VMHostContext, values: *mut ValRaw) {
    // SAFETY: host stubs pass the `VMHostContext` the test instance built,
    // whose `func` points at a live `Host`, and an array of at least
    // max(params, results) slots.
    unsafe {
        let host = &*((*ctx).func as *const Host);
        let args = std::slice::from_raw_parts(values, host.params).to_vec();
        HOST_RUNTIME.with(|r| r.set((*ctx).runtime));
        let outcome = (host.f)(&args);
        HOST_RUNTIME.with(|r| r.set(std::ptr::null_mut()));
        match outcome {
            Some(results) => {
                assert_eq!(results.len(), host.results);
                for (i, r) in results.into_iter().enumerate() {
                    *values.add(i) = r;
                }
            }
            None => (*(*ctx).runtime).trap_code = TrapCode::Host as u32,
        }
    }
}

impl Instance {
    /// Compiles and instantiates `wat` at `opt`; imported functions other
    /// than the `detvm` ones come from `hosts` by field name.
    pub fn new(wat: &str, opt: OptLevel, hosts: Vec<(&str, HostFn)>) -> Self {
        let wasm = wat::parse_str(wat).expect("wat");
        Self::from_bytes(wasm, opt, hosts)
    }

    /// As [`Instance::new`], from binary.
    pub fn from_bytes(wasm: Vec<u8>, opt: OptLevel, hosts: Vec<(&str, HostFn)>) -> Self {
        Self::build(wasm, opt, true, hosts)
    }

    /// As [`Instance::new`], compiling every loop as written (counted
    /// loops charged per iteration), as the reference for them.
    pub fn with_loops_as_written(wat: &str, opt: OptLevel) -> Self {
        let wasm = wat::parse_str(wat).expect("wat");
        Self::build(wasm, opt, false, Vec::new())
    }

    fn build(
        wasm: Vec<u8>,
        opt: OptLevel,
        prepay_loops: bool,
        mut hosts: Vec<(&str, HostFn)>,
    ) -> Self {
        wasmparser::Validator::new()
            .validate_all(&wasm)
            .expect("valid module");
        let env = env_of(&wasm);
        let charges = charges_of(&env, &wasm);
        let isa = isa_with(opt, prepay_loops);
        let code = compile_and_load(isa, &env, &wasm, None, charges.as_deref()).expect("compiles");

        let mut type_ids = Vec::new();
        for ty in &env.types {
            let first = env.types.iter().position(|t| t == ty).expect("present");
            type_ids.push(first as u32);
        }
        let initial_pages = env.memory.map_or(0, |m| m.initial);
        let max_pages = env
            .memory
            .and_then(|m| m.maximum)
            .unwrap_or(MAX_PAGES)
            .min(MAX_PAGES);
        let mut st = Box::new(State {
            runtime: VMRuntime {
                gas_left: i64::MAX,
                stack_left: i64::MAX,
                native_stack_limit: 0,
                trap_code: 0,
                _pad: 0,
            },
            builtins: VMBuiltins {
                memory_grow,
                memory_fill,
                memory_copy,
                memory_init,
                data_drop,
                table_grow,
                table_fill,
                table_copy,
                table_init,
                elem_drop,
                call_host,
            },
            mem: MemoryData::new(initial_pages, None, max_pages).expect("memory"),
            max_pages,
            global_cells: vec![VMGlobal::default(); env.globals.len()],
            global_ptrs: Vec::new(),
            tables: Vec::new(),
            table_elems: env
                .tables
                .iter()
                .map(|t| vec![0usize; t.initial as usize])
                .collect(),
            table_ptrs: Vec::new(),
            funcs: Vec::new(),
            type_ids,
            hosts: Vec::new(),
            host_ctxs: Vec::new(),
            data_dropped: vec![false; env.data.len()],
            elem_dropped: vec![false; env.elements.len()],
            vmctx: VMContext {
                runtime: std::ptr::null_mut(),
                builtins: std::ptr::null(),
                memory: std::ptr::null_mut(),
                globals: std::ptr::null(),
                tables: std::ptr::null(),
                funcs: std::ptr::null(),
                type_ids: std::ptr::null(),
                instance: std::ptr::null_mut(),
            },
            env,
            wasm,
        });
        let st_ptr: *mut State = &mut *st;
        st.global_ptrs = (0..st.global_cells.len())
            .map(|i| &mut st.global_cells[i] as *mut VMGlobal)
            .collect();
        st.tables = (0..st.table_elems.len())
            .map(|_| VMTable {
                elements: std::ptr::null_mut(),
                length: 0,
            })
            .collect();
        for t in 0..st.tables.len() {
            sync_table(&mut st, t);
        }
        st.table_ptrs = (0..st.tables.len())
            .map(|i| &mut st.tables[i] as *mut VMTable)
            .collect();
        st.vmctx = VMContext {
            runtime: &mut st.runtime,
            builtins: &st.builtins,
            memory: &mut st.mem.vm,
            globals: st.global_ptrs.as_ptr(),
            tables: st.table_ptrs.as_ptr(),
            funcs: std::ptr::null(),
            type_ids: st.type_ids.as_ptr(),
            instance: st_ptr as *mut c_void,
        };
        let vmctx_ptr: *mut VMContext = &mut st.vmctx;

        // Function references: imports first (host stubs), then defined.
        let imported = st.env.imported_funcs as usize;
        let mut funcs = Vec::with_capacity(st.env.funcs.len());
        let mut host_names = Vec::new();
        for import in &st.env.imports {
            if let ImportKind::Func(ty) = import.kind {
                host_names.push((import.module.clone(), import.name.clone(), ty));
            }
        }
        for (module, name, ty) in host_names {
            let type_id = st.type_ids[ty as usize];
            if module == "detvm" {
                funcs.push(VMFuncRef {
                    code: std::ptr::null(),
                    vmctx: std::ptr::null_mut(),
                    type_id,
                    _pad: 0,
                });
                continue;
            }
            let pos = hosts
                .iter()
                .position(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("no host function {name}"));
            let (_, f) = hosts.remove(pos);
            let fty = &st.env.types[ty as usize];
            let host = Box::new(Host {
                f,
                params: fty.params().len(),
                results: fty.results().len(),
            });
            let ctx = Box::new(VMHostContext {
                runtime: &mut st.runtime,
                builtins: &st.builtins,
                func: &*host as *const Host as *const c_void,
            });
            funcs.push(VMFuncRef {
                code: code.host_stub(ty),
                vmctx: &*ctx as *const VMHostContext as *mut c_void,
                type_id,
                _pad: 0,
            });
            st.hosts.push(host);
            st.host_ctxs.push(ctx);
        }
        for (i, &ty) in st.env.funcs.iter().enumerate().skip(imported) {
            funcs.push(VMFuncRef {
                code: code.function((i - imported) as u32),
                vmctx: vmctx_ptr as *mut c_void,
                type_id: st.type_ids[ty as usize],
                _pad: 0,
            });
        }
        st.funcs = funcs;
        st.vmctx.funcs = st.funcs.as_ptr();

        // Globals, tables, active segments.
        let imported_globals = st.env.imported_globals as usize;
        for g in 0..st.env.global_defs.len() {
            let init = st.env.global_defs[g].init;
            let v = const_value(&st, &init);
            st.global_cells[imported_globals + g].bytes[..8].copy_from_slice(&v.to_le_bytes());
        }
        let imported_tables = st.env.imported_tables as usize;
        for t in 0..st.env.table_defs.len() {
            if let Some(init) = st.env.table_defs[t].init {
                let v = const_value(&st, &init) as usize;
                st.table_elems[imported_tables + t].fill(v);
            }
        }
        for s in 0..st.env.elements.len() {
            let seg = st.env.elements[s].clone();
            match seg.mode {
                ElementMode::Active { table, offset } => {
                    let off = const_value(&st, &offset) as usize;
                    for (k, item) in seg.items.iter().enumerate() {
                        let v = const_value(&st, item) as usize;
                        st.table_elems[table as usize][off + k] = v;
                    }
                    st.elem_dropped[s] = true;
                }
                ElementMode::Declared => st.elem_dropped[s] = true,
                ElementMode::Passive => {}
            }
        }
        for d in 0..st.env.data.len() {
            let seg = st.env.data[d].clone();
            if let Some(offset) = seg.active_offset {
                let off = const_value(&st, &offset) as usize;
                let bytes = st.wasm[seg.bytes.clone()].to_vec();
                st.mem.bytes_mut()[off..off + bytes.len()].copy_from_slice(&bytes);
                st.data_dropped[d] = true;
            }
        }
        assert!(hosts.is_empty(), "unused host functions");
        Self { state: st, code }
    }

    /// Sets the `detvm` counters.
    pub fn set_counters(&mut self, gas: i64, stack: i64) {
        self.state.runtime.gas_left = gas;
        self.state.runtime.stack_left = stack;
    }

    /// The `detvm` counters.
    pub fn counters(&self) -> (i64, i64) {
        (self.state.runtime.gas_left, self.state.runtime.stack_left)
    }

    /// Linear memory.
    pub fn memory(&self) -> &[u8] {
        self.state.mem.bytes()
    }

    /// Calls export `name` with raw arguments.
    pub fn call(&mut self, name: &str, args: &[u64]) -> Result<Vec<u64>, TrapCode> {
        let index = self
            .state
            .env
            .exports
            .iter()
            .find(|e| e.name == name && e.kind == ExternalKind::Func)
            .unwrap_or_else(|| panic!("no export {name}"))
            .index;
        let ty_index = self.state.env.funcs[index as usize];
        let ty = &self.state.env.types[ty_index as usize];
        assert_eq!(args.len(), ty.params().len(), "argument count");
        let nresults = ty.results().len();
        let mut values: Vec<ValRaw> = args.to_vec();
        values.resize(args.len().max(nresults).max(1), 0);
        let funcref = &self.state.funcs[index as usize];
        let (code, vmctx) = (funcref.code, funcref.vmctx);
        let trampoline = self.code.entry_trampoline(ty_index);
        let marker = 0u8;
        let sp = &marker as *const u8 as usize;
        // Test threads have 2 MiB stacks; leave the net well inside.
        self.state.runtime.native_stack_limit = sp - (1 << 20);
        self.state.runtime.trap_code = 0;
        let runtime: *mut VMRuntime = &mut self.state.runtime;
        // SAFETY: `trampoline` matches the function's type, `code` and
        // `vmctx` form a valid function reference of this instance (whose
        // state is boxed and outlives the call, and whose runtime is
        // `runtime`), and `values` holds max(params, results) slots.
        unsafe {
            crate::runtime::trap_handler::call_catching(
                runtime,
                trampoline,
                code,
                vmctx,
                values.as_mut_ptr(),
            )
        }
        .expect("trap handler installed");
        let trap = self.state.runtime.trap_code;
        self.state.runtime.trap_code = 0;
        if trap != 0 {
            return Err(TrapCode::from_raw(trap).expect("known trap code"));
        }
        values.truncate(nresults);
        Ok(values)
    }
}

/// Runs `name(args)` of `wat` at both optimisation levels and checks that
/// both agree; returns the result.
pub fn run(wat: &str, name: &str, args: &[u64]) -> Result<Vec<u64>, TrapCode> {
    let mut outcome = None;
    for opt in OPTS {
        let mut inst = Instance::new(wat, opt, Vec::new());
        let r = inst.call(name, args);
        if let Some(prev) = &outcome {
            assert_eq!(prev, &r, "{name}{args:?}: opt levels disagree");
        }
        outcome = Some(r);
    }
    outcome.expect("ran")
}
