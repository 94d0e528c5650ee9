//! Every limit at its boundary: the limit itself passes, one more fails with
//! the right `Limit`, `value`, `max` and offset. The contract preset's real
//! numbers are used wherever the module stays small enough to build.

use std::borrow::Cow;

use detvm_metering::{Config, Limit, Limits, ValidationError, validate};
use wasm_encoder::{
    CodeSection, ConstExpr, CustomSection, DataSection, ElementSection, Elements, EntityType,
    ExportKind, ExportSection, Function, FunctionSection, GlobalSection, GlobalType, ImportSection,
    MemorySection, MemoryType, Module, TableSection, TableType, TypeSection, ValType,
};
use wasmparser::{Parser, Payload};

fn contract() -> Config {
    Config::default()
}

fn with(limit: Limit, max: u64) -> Config {
    let mut limits = Limits::contract();
    limits.set(limit, max);
    Config::with_limits(limits)
}

fn accept(bytes: &[u8], config: &Config) {
    if let Err(e) = validate(bytes, config) {
        panic!("rejected: {e}");
    }
}

/// Asserts the exact `LimitExceeded` error.
fn exceeded(bytes: &[u8], config: &Config, limit: Limit, value: u64, offset: u64) {
    let max = config.limits.get(limit);
    match validate(bytes, config) {
        Err(ValidationError::LimitExceeded {
            limit: l,
            value: v,
            max: m,
            offset: o,
        }) => {
            assert_eq!(
                (l, v, m, o),
                (limit, value, max, offset),
                "{}",
                limit.name()
            );
        }
        other => panic!("expected {limit} to be exceeded, got {other:?}"),
    }
}

/// Offset of the contents of the first section with `id`, where its item
/// count is.
fn section_start(bytes: &[u8], id: u8) -> u64 {
    for payload in Parser::new(0).parse_all(bytes) {
        if let Some((found, range)) = payload.expect("payload").as_section()
            && found == id
        {
            return range.start;
        }
    }
    panic!("no section {id}");
}

/// Offsets of the function bodies (just after each size prefix).
fn body_starts(bytes: &[u8]) -> Vec<u64> {
    Parser::new(0)
        .parse_all(bytes)
        .filter_map(|p| match p.expect("payload") {
            Payload::CodeSectionEntry(body) => Some(body.range().start),
            _ => None,
        })
        .collect()
}

fn func_type(params: usize, results: usize) -> TypeSection {
    let mut types = TypeSection::new();
    types
        .ty()
        .function(vec![ValType::I32; params], vec![ValType::I64; results]);
    types
}

/// A module of `n` functions of type `() -> ()`, body `f(i)` each.
fn module_of_functions(n: usize, f: impl Fn(usize) -> Function) -> Vec<u8> {
    let mut funcs = FunctionSection::new();
    let mut code = CodeSection::new();
    for i in 0..n {
        funcs.function(0);
        code.function(&f(i));
    }
    let mut m = Module::new();
    m.section(&func_type(0, 0)).section(&funcs).section(&code);
    m.finish()
}

fn empty_body() -> Function {
    let mut f = Function::new([]);
    f.instructions().end();
    f
}

fn nested_blocks(n: usize) -> Function {
    let mut f = Function::new([]);
    let mut sink = f.instructions();
    for _ in 0..n {
        sink.block(wasm_encoder::BlockType::Empty);
    }
    for _ in 0..n {
        sink.end();
    }
    sink.end();
    f
}

/// A module of exactly `size` bytes: a header and one padding custom
/// section.
fn module_of_size(size: usize) -> Vec<u8> {
    for guess in (size.saturating_sub(32)..size).rev() {
        let m = {
            let mut m = Module::new();
            m.section(&CustomSection {
                name: Cow::Borrowed("pad"),
                data: Cow::Owned(vec![0; guess]),
            });
            m.finish()
        };
        if m.len() == size {
            return m;
        }
    }
    panic!("cannot build a module of {size} bytes");
}

#[test]
fn module_size() {
    let max = 4 << 20;
    accept(&module_of_size(max), &contract());
    exceeded(
        &module_of_size(max + 1),
        &contract(),
        Limit::ModuleSize,
        max as u64 + 1,
        0,
    );
}

#[test]
fn module_size_is_checked_before_decoding() {
    let garbage = vec![0xff; (4 << 20) + 1];
    exceeded(&garbage, &contract(), Limit::ModuleSize, (4 << 20) + 1, 0);
}

#[test]
fn types() {
    let build = |n| {
        let mut types = TypeSection::new();
        for _ in 0..n {
            types.ty().function([], []);
        }
        let mut m = Module::new();
        m.section(&types);
        m.finish()
    };
    accept(&build(1_024), &contract());
    let m = build(1_025);
    exceeded(&m, &contract(), Limit::Types, 1_025, section_start(&m, 1));
}

#[test]
fn types_inside_a_recursion_group_are_counted_one_by_one() {
    // One entry holding two types: the header count passes, the group does
    // not. (The group is outside the profile, but limits come first.)
    let m = wat::parse_str("(module (rec (type (func)) (type (func))))").unwrap();
    exceeded(&m, &with(Limit::Types, 1), Limit::Types, 2, 11);
    accept_unsupported(&m, &with(Limit::Types, 2));
}

#[test]
fn a_huge_recursion_group_is_refused_by_its_count() {
    // `rec` claiming 2^32-1 types, in a 17-byte module.
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend([0x01, 0x07, 0x01, 0x4e, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    exceeded(&m, &contract(), Limit::Types, u64::from(u32::MAX), 11);
    exceeded(
        &m,
        &Config::with_limits(Limits::spec()),
        Limit::Types,
        u64::from(u32::MAX),
        11,
    );
}

/// Within the limits, but outside the profile.
fn accept_unsupported(bytes: &[u8], config: &Config) {
    let e = validate(bytes, config).unwrap_err();
    assert_eq!(e.kind(), "unsupported_feature", "{e}");
}

#[test]
fn functions() {
    accept(&module_of_functions(10_000, |_| empty_body()), &contract());
    let m = module_of_functions(10_001, |_| empty_body());
    exceeded(
        &m,
        &contract(),
        Limit::Functions,
        10_001,
        section_start(&m, 3),
    );
}

#[test]
fn functions_count_imports() {
    let build = |defined: usize| {
        let mut imports = ImportSection::new();
        imports.import("env", "f", EntityType::Function(0));
        let mut funcs = FunctionSection::new();
        let mut code = CodeSection::new();
        for _ in 0..defined {
            funcs.function(0);
            code.function(&empty_body());
        }
        let mut m = Module::new();
        m.section(&func_type(0, 0))
            .section(&imports)
            .section(&funcs)
            .section(&code);
        m.finish()
    };
    let config = with(Limit::Functions, 3);
    accept(&build(2), &config);
    let m = build(3);
    exceeded(&m, &config, Limit::Functions, 4, section_start(&m, 3));
}

#[test]
fn imports() {
    let build = |n| {
        let mut imports = ImportSection::new();
        for i in 0..n {
            imports.import("env", &format!("f{i}"), EntityType::Function(0));
        }
        let mut m = Module::new();
        m.section(&func_type(0, 0)).section(&imports);
        m.finish()
    };
    accept(&build(100), &contract());
    let m = build(101);
    exceeded(&m, &contract(), Limit::Imports, 101, section_start(&m, 2));
}

fn globals_module(imported: usize, defined: usize) -> Vec<u8> {
    let ty = GlobalType {
        val_type: ValType::I32,
        mutable: false,
        shared: false,
    };
    let mut imports = ImportSection::new();
    for i in 0..imported {
        imports.import("env", &format!("g{i}"), ty);
    }
    let mut globals = GlobalSection::new();
    for _ in 0..defined {
        globals.global(ty, &ConstExpr::i32_const(0));
    }
    let mut m = Module::new();
    if imported > 0 {
        m.section(&imports);
    }
    m.section(&globals);
    m.finish()
}

#[test]
fn globals() {
    accept(&globals_module(0, 1_000), &contract());
    let m = globals_module(0, 1_001);
    exceeded(&m, &contract(), Limit::Globals, 1_001, section_start(&m, 6));
}

#[test]
fn globals_count_imports() {
    accept(&globals_module(1, 999), &contract());
    let m = globals_module(1, 1_000);
    exceeded(&m, &contract(), Limit::Globals, 1_001, section_start(&m, 6));
}

#[test]
fn exports() {
    let build = |n| {
        let mut exports = ExportSection::new();
        for i in 0..n {
            exports.export(&format!("e{i}"), ExportKind::Func, 0);
        }
        let mut m = Module::new();
        let mut funcs = FunctionSection::new();
        funcs.function(0);
        let mut code = CodeSection::new();
        code.function(&empty_body());
        m.section(&func_type(0, 0))
            .section(&funcs)
            .section(&exports)
            .section(&code);
        m.finish()
    };
    accept(&build(1_000), &contract());
    let m = build(1_001);
    exceeded(&m, &contract(), Limit::Exports, 1_001, section_start(&m, 7));
}

#[test]
fn params() {
    let build = |n| {
        let mut m = Module::new();
        m.section(&func_type(n, 0));
        m.finish()
    };
    accept(&build(64), &contract());
    exceeded(&build(65), &contract(), Limit::Params, 65, 11);
}

#[test]
fn results() {
    let build = |n| {
        let mut m = Module::new();
        m.section(&func_type(0, n));
        m.finish()
    };
    accept(&build(8), &contract());
    exceeded(&build(9), &contract(), Limit::Results, 9, 11);
}

#[test]
fn locals_per_function() {
    let build = |groups: &[u32]| {
        module_of_functions(1, |_| {
            let mut f = Function::new(groups.iter().map(|&n| (n, ValType::I32)));
            f.instructions().end();
            f
        })
    };
    accept(&build(&[4_096]), &contract());
    accept(&build(&[4_000, 96]), &contract());
    let m = build(&[4_097]);
    exceeded(
        &m,
        &contract(),
        Limit::LocalsPerFunction,
        4_097,
        body_starts(&m)[0] + 1,
    );
    // Crossed by the second declaration, which is reported.
    let m = build(&[4_000, 97]);
    let second = body_starts(&m)[0] + 1 + 3;
    exceeded(&m, &contract(), Limit::LocalsPerFunction, 4_097, second);
}

#[test]
fn locals_per_function_counts_declarations_not_bytes() {
    // u32::MAX locals in three bytes of declaration.
    let m = module_of_functions(1, |_| {
        let mut f = Function::new([(u32::MAX, ValType::I64)]);
        f.instructions().end();
        f
    });
    exceeded(
        &m,
        &contract(),
        Limit::LocalsPerFunction,
        u64::from(u32::MAX),
        body_starts(&m)[0] + 1,
    );
}

#[test]
fn locals_total() {
    let build = |extra: u32| {
        module_of_functions(251, |i| {
            let n = if i < 250 { 4_000 } else { extra };
            let mut f = Function::new([(n, ValType::I32)]);
            f.instructions().end();
            f
        })
    };
    let info = validate(&build(0), &contract()).expect("1,000,000 locals");
    assert_eq!(info.total_locals, 1_000_000);
    let m = build(1);
    exceeded(
        &m,
        &contract(),
        Limit::LocalsTotal,
        1_000_001,
        body_starts(&m)[250] + 1,
    );
}

#[test]
fn function_body_size() {
    let max = 256 << 10;
    // One byte of local declarations, nops, and `end`.
    let build = |size: usize| {
        module_of_functions(1, |_| {
            let mut f = Function::new([]);
            let mut sink = f.instructions();
            for _ in 0..size - 2 {
                sink.nop();
            }
            sink.end();
            f
        })
    };
    let m = build(max);
    accept(&m, &contract());
    let m = build(max + 1);
    exceeded(
        &m,
        &contract(),
        Limit::FunctionBodySize,
        max as u64 + 1,
        body_starts(&m)[0],
    );
}

#[test]
fn blocks_per_function() {
    let m = module_of_functions(1, |_| nested_blocks(5_000));
    assert_eq!(
        validate(&m, &contract())
            .expect("5,000 blocks")
            .total_blocks,
        5_000
    );
    let m = module_of_functions(1, |_| nested_blocks(5_001));
    // Locals byte, then one byte-pair per block: the 5,001st is the last.
    let last = body_starts(&m)[0] + 1 + 2 * 5_000;
    exceeded(&m, &contract(), Limit::BlocksPerFunction, 5_001, last);
}

#[test]
fn blocks_per_function_counts_loop_and_if() {
    let m = wat::parse_str(
        "(module (func (param i32) (block) (loop) (if (local.get 0) (then)) (block)))",
    )
    .unwrap();
    accept(&m, &with(Limit::BlocksPerFunction, 4));
    let e = validate(&m, &with(Limit::BlocksPerFunction, 3)).unwrap_err();
    assert!(
        matches!(
            e,
            ValidationError::LimitExceeded {
                limit: Limit::BlocksPerFunction,
                value: 4,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn blocks_total() {
    let build = |extra: usize| {
        module_of_functions(11, |i| nested_blocks(if i < 10 { 5_000 } else { extra }))
    };
    let info = validate(&build(0), &contract()).expect("50,000 blocks");
    assert_eq!(info.total_blocks, 50_000);
    let m = build(1);
    exceeded(
        &m,
        &contract(),
        Limit::BlocksTotal,
        50_001,
        body_starts(&m)[10] + 1,
    );
}

#[test]
fn br_table_targets() {
    let build = |n: u32| {
        module_of_functions(1, |_| {
            let mut f = Function::new([]);
            f.instructions()
                .block(wasm_encoder::BlockType::Empty)
                .i32_const(0)
                .br_table(vec![0; n as usize], 0)
                .end()
                .end();
            f
        })
    };
    accept(&build(65_536), &contract());
    let m = build(65_537);
    // Locals byte, `block` (2 bytes), `i32.const 0` (2 bytes), then br_table.
    exceeded(
        &m,
        &contract(),
        Limit::BrTableTargets,
        65_537,
        body_starts(&m)[0] + 5,
    );
}

fn tables_module(imported: usize, defined: usize, initial: u64, maximum: Option<u64>) -> Vec<u8> {
    let ty = TableType {
        element_type: wasm_encoder::RefType::FUNCREF,
        table64: false,
        minimum: initial,
        maximum,
        shared: false,
    };
    let mut imports = ImportSection::new();
    for i in 0..imported {
        imports.import("env", &format!("t{i}"), ty);
    }
    let mut tables = TableSection::new();
    for _ in 0..defined {
        tables.table(ty);
    }
    let mut m = Module::new();
    if imported > 0 {
        m.section(&imports);
    }
    m.section(&tables);
    m.finish()
}

#[test]
fn tables() {
    accept(&tables_module(0, 2, 1, None), &contract());
    let m = tables_module(0, 3, 1, None);
    exceeded(&m, &contract(), Limit::Tables, 3, section_start(&m, 4));
    accept(&tables_module(1, 1, 1, None), &contract());
    let m = tables_module(2, 1, 1, None);
    exceeded(&m, &contract(), Limit::Tables, 3, section_start(&m, 4));
}

#[test]
fn tables_imported_beyond_the_limit() {
    let m = tables_module(3, 0, 1, None);
    // The third import: imports start at 11 and are 11 bytes each.
    exceeded(&m, &contract(), Limit::Tables, 3, 11 + 2 * 11);
}

#[test]
fn table_elements() {
    accept(&tables_module(0, 1, 10_000, None), &contract());
    exceeded(
        &tables_module(0, 1, 10_001, None),
        &contract(),
        Limit::TableElements,
        10_001,
        11,
    );
}

fn memory_module(initial: u64, maximum: Option<u64>) -> Vec<u8> {
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: initial,
        maximum,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut m = Module::new();
    m.section(&memories);
    m.finish()
}

#[test]
fn memory_pages() {
    accept(&memory_module(1_024, None), &contract());
    exceeded(
        &memory_module(1_025, None),
        &contract(),
        Limit::MemoryPages,
        1_025,
        11,
    );
    // A large declared maximum is not an error: it is lowered.
    accept(&memory_module(1, Some(65_536)), &contract());
}

#[test]
fn imported_memory_pages() {
    let mut imports = ImportSection::new();
    imports.import(
        "env",
        "memory",
        MemoryType {
            minimum: 1_025,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        },
    );
    let mut m = Module::new();
    m.section(&imports);
    let m = m.finish();
    exceeded(&m, &contract(), Limit::MemoryPages, 1_025, 11);
}

fn segments_module(data: usize, elements: usize) -> Vec<u8> {
    let mut m = Module::new();
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    let mut elems = ElementSection::new();
    for _ in 0..elements {
        elems.passive(Elements::Functions(Cow::Borrowed(&[0])));
    }
    let mut code = CodeSection::new();
    code.function(&empty_body());
    let mut datas = DataSection::new();
    for _ in 0..data {
        datas.passive([1u8]);
    }
    m.section(&func_type(0, 0)).section(&funcs);
    if elements > 0 {
        m.section(&elems);
    }
    m.section(&code);
    if data > 0 {
        m.section(&datas);
    }
    m.finish()
}

#[test]
fn data_segments() {
    accept(&segments_module(1_000, 0), &contract());
    let m = segments_module(1_001, 0);
    exceeded(
        &m,
        &contract(),
        Limit::DataSegments,
        1_001,
        section_start(&m, 11),
    );
}

#[test]
fn element_segments() {
    accept(&segments_module(0, 1_000), &contract());
    let m = segments_module(0, 1_001);
    exceeded(
        &m,
        &contract(),
        Limit::ElementSegments,
        1_001,
        section_start(&m, 9),
    );
}

#[test]
fn section_counts_are_checked_before_the_items_are_read() {
    // A type section that claims 2^32-1 entries and holds none: the count is
    // refused as such, not reported as a truncated section and not used to
    // size anything.
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend([0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    exceeded(&m, &contract(), Limit::Types, u64::from(u32::MAX), 10);
    // The same under the spec preset.
    exceeded(
        &m,
        &Config::with_limits(Limits::spec()),
        Limit::Types,
        u64::from(u32::MAX),
        10,
    );
}

#[test]
fn the_first_problem_in_byte_order_wins() {
    // Too many params in the type section, and a body far too large later:
    // the type section comes first.
    let mut m = Module::new();
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    let mut code = CodeSection::new();
    let mut f = Function::new([]);
    for _ in 0..300_000 {
        f.instructions().nop();
    }
    f.instructions().end();
    code.function(&f);
    m.section(&func_type(65, 0)).section(&funcs).section(&code);
    exceeded(&m.finish(), &contract(), Limit::Params, 65, 11);
}

#[test]
fn limits_come_before_validity() {
    // 1,025 pages and an invalid body: the limit is reported.
    let m = wat::parse_str("(module (memory 1025) (func (result i32)))").unwrap();
    exceeded(
        &m,
        &contract(),
        Limit::MemoryPages,
        1_025,
        section_start(&m, 5) + 1,
    );
}

#[test]
fn presets() {
    let c = Limits::contract();
    let expected = [
        (Limit::ModuleSize, 4 << 20),
        (Limit::Types, 1_024),
        (Limit::Functions, 10_000),
        (Limit::Imports, 100),
        (Limit::Globals, 1_000),
        (Limit::Exports, 1_000),
        (Limit::Params, 64),
        (Limit::Results, 8),
        (Limit::LocalsPerFunction, 4_096),
        (Limit::LocalsTotal, 1_000_000),
        (Limit::FunctionBodySize, 256 << 10),
        (Limit::BlocksPerFunction, 5_000),
        (Limit::BlocksTotal, 50_000),
        (Limit::BrTableTargets, 65_536),
        (Limit::Tables, 2),
        (Limit::TableElements, 10_000),
        (Limit::DataSegments, 1_000),
        (Limit::ElementSegments, 1_000),
        (Limit::MemoryPages, 1_024),
    ];
    assert_eq!(expected.len(), Limit::ALL.len());
    for (limit, max) in expected {
        assert_eq!(c.get(limit), max, "{limit}");
    }
    assert_eq!(Limits::default(), c);
    assert_eq!(Config::default().limits, c);
    let s = Limits::spec();
    assert_eq!(s.module_size, 1 << 30);
    assert_eq!(s.memory_pages, 65_536);
    assert_eq!(s.blocks_per_function, u64::MAX);
    for &limit in Limit::ALL {
        assert!(
            s.get(limit) >= c.get(limit),
            "{limit}: spec is narrower than contract"
        );
    }
}

#[test]
fn limit_names() {
    let names: Vec<_> = Limit::ALL.iter().map(|l| l.name()).collect();
    assert_eq!(
        names,
        [
            "module_size",
            "types",
            "functions",
            "imports",
            "globals",
            "exports",
            "params",
            "results",
            "locals_per_function",
            "locals_total",
            "function_body_size",
            "blocks_per_function",
            "blocks_total",
            "br_table_targets",
            "tables",
            "table_elements",
            "data_segments",
            "element_segments",
            "memory_pages",
        ]
    );
    for &limit in Limit::ALL {
        assert_eq!(Limit::from_name(limit.name()), Some(limit));
        assert_eq!(limit.to_string(), limit.name());
    }
    let e = validate(&memory_module(2_000, None), &contract()).unwrap_err();
    assert_eq!(e.kind(), "limit_exceeded");
    assert!(e.to_string().contains("memory_pages"), "{e}");
}
