//! What instantiation costs per instance, whatever the module's segments:
//! a passive element segment is not evaluated per instance (only
//! `table.init` turns items into references, per element copied), and
//! overlapping active segments are merged once per module, so an instance
//! writes at most its initial memory and tables. The results are the same
//! as applying every segment in order, which the path for imported memories
//! and tables still does.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use detvm_vm::{
    Engine, Error, Extern, Instance, Linker, Memory, MemoryType, Module, Outcome, Store, Table,
    TableType, TrapKind, ValType, Value,
};
use wasm_encoder::{
    CodeSection, ConstExpr, DataSection, ElementSection, Elements, ExportKind, ExportSection,
    Function, FunctionSection, ImportSection, MemorySection, RefType, TableSection, TypeSection,
};

/// Counts the bytes this thread allocates, so a test can bound what one
/// instantiation allocates (tests run on threads of their own).
struct CountingAllocator;

thread_local! {
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    // `try_with`: the counter may be gone while the thread exits.
    let _ = ALLOCATED.try_with(|a| a.set(a.get().saturating_add(bytes as u64)));
}

fn allocated() -> u64 {
    ALLOCATED.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, and only adds to a thread-local counter that never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size.saturating_sub(layout.size()));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Items of the big passive segment: nearly 4 MiB of one-byte function
/// indices, inside the contract limits' module size.
const BIG: u32 = 4_150_000;

/// Table size of the big-segment module.
const SLOTS: u64 = 4;

/// A module with a table of `SLOTS`, functions `f0` (returns 10) and `f1`
/// (returns 11), and one passive segment of `BIG` items, item `i` being
/// `f(i % 2)`. Exports `init(dst, src, len)` (`table.init`), `get(i)`
/// (`call_indirect` of slot `i`) and `drop` (`elem.drop`).
fn big_passive_segment() -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([], [wasm_encoder::ValType::I32]); // 0
    types.ty().function([wasm_encoder::ValType::I32; 3], []); // 1
    types
        .ty()
        .function([wasm_encoder::ValType::I32], [wasm_encoder::ValType::I32]); // 2
    types.ty().function([], []); // 3

    let mut funcs = FunctionSection::new();
    for ty in [0, 0, 1, 2, 3] {
        funcs.function(ty);
    }
    let mut tables = TableSection::new();
    tables.table(wasm_encoder::TableType {
        element_type: RefType::FUNCREF,
        table64: false,
        minimum: SLOTS,
        maximum: Some(SLOTS),
        shared: false,
    });
    let mut exports = ExportSection::new();
    exports.export("init", ExportKind::Func, 2);
    exports.export("get", ExportKind::Func, 3);
    exports.export("drop", ExportKind::Func, 4);

    let items: Vec<u32> = (0..BIG).map(|i| i % 2).collect();
    let mut elements = ElementSection::new();
    elements.passive(Elements::Functions(items.into()));

    let mut code = CodeSection::new();
    for value in [10, 11] {
        let mut f = Function::new([]);
        f.instructions().i32_const(value).end();
        code.function(&f);
    }
    let mut init = Function::new([]);
    init.instructions()
        .local_get(0)
        .local_get(1)
        .local_get(2)
        .table_init(0, 0)
        .end();
    code.function(&init);
    let mut get = Function::new([]);
    get.instructions().local_get(0).call_indirect(0, 0).end();
    code.function(&get);
    let mut drop = Function::new([]);
    drop.instructions().elem_drop(0).end();
    code.function(&drop);

    let mut module = wasm_encoder::Module::new();
    module
        .section(&types)
        .section(&funcs)
        .section(&tables)
        .section(&exports)
        .section(&elements)
        .section(&code);
    module.finish()
}

fn gas_used(outcome: &Outcome) -> u64 {
    match outcome {
        Outcome::Success { gas_used, .. } | Outcome::Trap { gas_used, .. } => *gas_used,
    }
}

fn call(store: &mut Store<()>, instance: &Instance, name: &str, args: &[i32]) -> Outcome {
    let args: Vec<Value> = args.iter().map(|&a| Value::I32(a)).collect();
    instance
        .call(store, name, &args, 10_000_000)
        .expect("call runs")
}

fn get(store: &mut Store<()>, instance: &Instance, slot: i32) -> i32 {
    match call(store, instance, "get", &[slot]) {
        Outcome::Success { results, .. } => match results[..] {
            [Value::I32(v)] => v,
            _ => panic!("unexpected results {results:?}"),
        },
        other => panic!("get({slot}) trapped: {other:?}"),
    }
}

fn trap(outcome: &Outcome) -> TrapKind {
    outcome
        .trap_kind()
        .unwrap_or_else(|| panic!("expected a trap, got {outcome:?}"))
}

#[test]
fn big_passive_segment_costs_an_instance_nothing_per_item() {
    let engine = Engine::default();
    let bytes = big_passive_segment();
    assert!(bytes.len() as u64 <= 4 << 20, "{} bytes", bytes.len());
    let module = Module::new(&engine, &bytes).expect("the contract limits accept it");
    let linker = Linker::new(&engine);
    let mut store = Store::new(&engine, ());

    // Many instances in one store and thread, as a node instantiates the
    // contract for every call. Evaluating the segment would allocate 8
    // bytes per item (33 MB) each time; an instance now allocates only its
    // own small objects.
    let mut instances = Vec::new();
    for _ in 0..50 {
        let before = allocated();
        let instance = Instance::new(&mut store, &module, &linker).expect("instantiates");
        let used = allocated() - before;
        assert!(used < 64 << 10, "one instantiation allocated {used} bytes");
        instances.push(instance);
    }

    // `table.init` still copies the right items, from the far end of the
    // segment too, and is charged per element copied.
    let instance = instances[49];
    let none = call(&mut store, &instance, "init", &[0, 0, 0]);
    assert!(none.results().is_some(), "{none:?}");
    let two = call(&mut store, &instance, "init", &[0, BIG as i32 - 2, 2]);
    assert!(two.results().is_some(), "{two:?}");
    // `table_per_element` (2 in the default schedule) per element.
    assert_eq!(gas_used(&two) - gas_used(&none), 2 * 2);
    assert_eq!(get(&mut store, &instance, 0), 10);
    assert_eq!(get(&mut store, &instance, 1), 11);
    let two = call(&mut store, &instance, "init", &[2, 1, 2]);
    assert!(two.results().is_some(), "{two:?}");
    assert_eq!(get(&mut store, &instance, 2), 11);
    assert_eq!(get(&mut store, &instance, 3), 10);

    // The references are this instance's: another instance's table holds
    // nothing until its own `table.init`.
    let other = instances[0];
    assert_eq!(
        trap(&call(&mut store, &other, "get", &[0])),
        TrapKind::UninitializedElement
    );

    // Out of bounds in the segment or the table: a trap that writes
    // nothing.
    for args in [[0, BIG as i32 - 1, 2], [3, 0, 2], [0, -1, 1], [-1, 0, 1]] {
        assert_eq!(
            trap(&call(&mut store, &instance, "init", &args)),
            TrapKind::TableOutOfBounds,
            "init{args:?}"
        );
    }
    assert_eq!(get(&mut store, &instance, 0), 10);
    assert_eq!(get(&mut store, &instance, 3), 10);
    // Empty copies at the very ends are in bounds.
    let at_end = call(
        &mut store,
        &instance,
        "init",
        &[SLOTS as i32, BIG as i32, 0],
    );
    assert!(at_end.results().is_some(), "{at_end:?}");

    // `elem.drop` empties the segment for this instance only.
    assert!(call(&mut store, &instance, "drop", &[]).results().is_some());
    assert!(
        call(&mut store, &instance, "init", &[0, 0, 0])
            .results()
            .is_some()
    );
    assert_eq!(
        trap(&call(&mut store, &instance, "init", &[0, 0, 1])),
        TrapKind::TableOutOfBounds
    );
    let other_init = call(&mut store, &other, "init", &[0, 1, 1]);
    assert!(other_init.results().is_some(), "{other_init:?}");
    assert_eq!(get(&mut store, &other, 0), 11);
}

/// Data segments: 1,000 of 4,000 bytes, overlapping all over one page.
const SEGMENTS: usize = 1_000;
const SEGMENT_LEN: usize = 4_000;
const PAGE: usize = 1 << 16;

fn segment(i: usize) -> (u32, Vec<u8>) {
    let offset = (i * 7_919) % (PAGE - SEGMENT_LEN + 1);
    let bytes = (0..SEGMENT_LEN).map(|j| (i * 31 + j * 7) as u8).collect();
    (offset as u32, bytes)
}

/// The page after every segment is applied in order.
fn expected_page() -> Vec<u8> {
    let mut page = vec![0; PAGE];
    for i in 0..SEGMENTS {
        let (offset, bytes) = segment(i);
        page[offset as usize..offset as usize + bytes.len()].copy_from_slice(&bytes);
    }
    page
}

/// A module with the overlapping data segments, over its own exported
/// memory of one page or over an imported one.
fn overlapping_data(imported: bool) -> Vec<u8> {
    let mut module = wasm_encoder::Module::new();
    let memory = wasm_encoder::MemoryType {
        minimum: 1,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    };
    if imported {
        let mut imports = ImportSection::new();
        imports.import("env", "mem", memory);
        module.section(&imports);
    } else {
        let mut memories = MemorySection::new();
        memories.memory(memory);
        module.section(&memories);
        let mut exports = ExportSection::new();
        exports.export("mem", ExportKind::Memory, 0);
        module.section(&exports);
    }
    let mut data = DataSection::new();
    for i in 0..SEGMENTS {
        let (offset, bytes) = segment(i);
        data.active(0, &ConstExpr::i32_const(offset as i32), bytes);
    }
    module.section(&data);
    module.finish()
}

#[test]
fn overlapping_data_segments_give_the_same_memory_as_in_order() {
    let engine = Engine::default();
    let expected = expected_page();

    let module = Module::new(&engine, &overlapping_data(false)).expect("module");
    let linker = Linker::new(&engine);
    let mut store = Store::new(&engine, ());
    for _ in 0..3 {
        let before = allocated();
        let instance = Instance::new(&mut store, &module, &linker).expect("instantiates");
        // The page itself and small objects; nothing per segment.
        let used = allocated() - before;
        assert!(used < PAGE as u64 + (64 << 10), "allocated {used} bytes");
        let memory = instance.get_memory(&store, "mem").expect("exported");
        assert!(memory.data(&store).unwrap() == &expected[..]);
    }

    // An imported memory takes the in-order path; same bytes.
    let module = Module::new(&engine, &overlapping_data(true)).expect("module");
    let mut store = Store::new(&engine, ());
    let memory = Memory::new(
        &mut store,
        MemoryType {
            minimum: 1,
            maximum: None,
        },
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker.define("env", "mem", memory);
    Instance::new(&mut store, &module, &linker).expect("instantiates");
    assert!(memory.data(&store).unwrap() == &expected[..]);
}

/// Overlapping active element segments (function indices, `ref.null`, a
/// segment that ends exactly at the table's end, an empty one) over a
/// table of 10, defined or imported.
fn overlapping_elements(imported: bool) -> String {
    let table = if imported {
        r#"(import "env" "table" (table $t 10 funcref))"#
    } else {
        r#"(table $t (export "table") 10 funcref)"#
    };
    format!(
        r#"(module
          {table}
          (type $r (func (result i32)))
          (func $a (result i32) i32.const 1)
          (func $b (result i32) i32.const 2)
          (func $c (result i32) i32.const 3)
          (elem (table $t) (i32.const 0) func $a $a $a $a $a $a)
          (elem (table $t) (i32.const 2) funcref (ref.func $b) (ref.null func) (ref.func $b))
          (elem (table $t) (i32.const 7) func $c $c $c)
          (elem (table $t) (i32.const 10) func)
          (elem (table $t) (i32.const 1) func $c)
          (elem (table $t) (i32.const 4) func $a)
          (func (export "probe") (param i32) (result i32)
            (if (result i32) (ref.is_null (table.get $t (local.get 0)))
              (then (i32.const -1))
              (else (call_indirect $t (type $r) (local.get 0))))))"#
    )
}

fn probe_all(store: &mut Store<()>, instance: &Instance) -> Vec<i32> {
    (0..10)
        .map(|i| match call(store, instance, "probe", &[i]) {
            Outcome::Success { results, .. } => match results[..] {
                [Value::I32(v)] => v,
                _ => panic!("unexpected results {results:?}"),
            },
            other => panic!("probe({i}) trapped: {other:?}"),
        })
        .collect()
}

#[test]
fn overlapping_element_segments_give_the_same_table_as_in_order() {
    // Applied in order; -1 is null.
    let expected = vec![1, 3, 2, -1, 1, 1, -1, 3, 3, 3];
    let engine = Engine::default();
    let wat = overlapping_elements(false);
    let module = Module::new(&engine, &wat::parse_str(&wat).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let linker = Linker::new(&engine);
    for _ in 0..2 {
        let instance = Instance::new(&mut store, &module, &linker).expect("instantiates");
        assert_eq!(probe_all(&mut store, &instance), expected);
    }

    // An imported table takes the in-order path; same contents.
    let wat = overlapping_elements(true);
    let module = Module::new(&engine, &wat::parse_str(&wat).unwrap()).unwrap();
    let table = Table::new(
        &mut store,
        TableType {
            element: ValType::FuncRef,
            minimum: 10,
            maximum: None,
        },
        Value::FuncRef(None),
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker.define("env", "table", Extern::Table(table));
    let instance = Instance::new(&mut store, &module, &linker).expect("instantiates");
    assert_eq!(probe_all(&mut store, &instance), expected);
}

#[test]
fn a_failing_segment_keeps_the_writes_before_it() {
    // Not mergeable (the last segment does not fit), so the segments go in
    // order and the imported memory keeps the first write.
    let engine = Engine::default();
    let wat = r#"(module
      (import "env" "mem" (memory 1))
      (data (i32.const 0) "\01\02")
      (data (i32.const 1) "\03")
      (data (i32.const 65535) "\04\05"))"#;
    let module = Module::new(&engine, &wat::parse_str(wat).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let memory = Memory::new(
        &mut store,
        MemoryType {
            minimum: 1,
            maximum: None,
        },
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker.define("env", "mem", memory);
    match Instance::new(&mut store, &module, &linker) {
        Err(Error::Instantiation { kind, .. }) => assert_eq!(kind, TrapKind::MemoryOutOfBounds),
        other => panic!("expected an instantiation trap, got {other:?}"),
    }
    assert_eq!(&memory.data(&store).unwrap()[..3], &[1, 3, 0]);
    assert_eq!(memory.data(&store).unwrap()[PAGE - 1], 0);

    // The same with the module's own memory fails the same way.
    let own = wat.replace(r#"(import "env" "mem" (memory 1))"#, "(memory 1)");
    let module = Module::new(&engine, &wat::parse_str(&own).unwrap()).unwrap();
    match Instance::new(&mut store, &module, &Linker::new(&engine)) {
        Err(Error::Instantiation { kind, .. }) => assert_eq!(kind, TrapKind::MemoryOutOfBounds),
        other => panic!("expected an instantiation trap, got {other:?}"),
    }
}
