//! The official WebAssembly 2.0 test suite: one test per `.wast` file.
//!
//! Every directive must pass; the only exceptions are listed, with reasons,
//! in `detvm_spec_tests::SKIPS`.

use detvm_spec_tests::{run_script, run_script_with, wasm_v2_script, wasm_v2_scripts};

/// Scripts recurse deeply on purpose; the engine needs a native stack well
/// beyond the deterministic limit, which a test thread's default lacks.
const SCRIPT_THREAD_STACK: usize = 256 << 20;

fn run(file: &'static str) {
    let text = wasm_v2_script(file).unwrap_or_else(|| panic!("{file} is not in the pinned suite"));
    let report = std::thread::Builder::new()
        .stack_size(SCRIPT_THREAD_STACK)
        .spawn(move || run_script(file, text))
        .expect("spawn script thread")
        .join()
        .expect("the harness never panics");
    let details: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("  {file}:{}: {}", f.line, f.message))
        .collect();
    assert!(
        report.failed == 0,
        "{file}: {} passed, {} failed, {} skipped\n{}",
        report.passed,
        report.failed,
        report.skipped,
        details.join("\n")
    );
    assert!(report.passed > 0, "{file}: no directive ran");
}

macro_rules! scripts {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                run($file);
            }
        )*

        const ALL: &[&str] = &[$($file),*];
    };
}

scripts! {
    address => "address.wast",
    align => "align.wast",
    binary_leb128 => "binary-leb128.wast",
    binary => "binary.wast",
    block => "block.wast",
    br => "br.wast",
    br_if => "br_if.wast",
    br_table => "br_table.wast",
    bulk => "bulk.wast",
    call => "call.wast",
    call_indirect => "call_indirect.wast",
    comments => "comments.wast",
    const_script => "const.wast",
    conversions => "conversions.wast",
    custom => "custom.wast",
    data => "data.wast",
    elem => "elem.wast",
    endianness => "endianness.wast",
    exports => "exports.wast",
    f32 => "f32.wast",
    f32_bitwise => "f32_bitwise.wast",
    f32_cmp => "f32_cmp.wast",
    f64 => "f64.wast",
    f64_bitwise => "f64_bitwise.wast",
    f64_cmp => "f64_cmp.wast",
    fac => "fac.wast",
    float_exprs => "float_exprs.wast",
    float_literals => "float_literals.wast",
    float_memory => "float_memory.wast",
    float_misc => "float_misc.wast",
    forward => "forward.wast",
    func => "func.wast",
    func_ptrs => "func_ptrs.wast",
    global => "global.wast",
    i32 => "i32.wast",
    i64 => "i64.wast",
    if_script => "if.wast",
    imports => "imports.wast",
    inline_module => "inline-module.wast",
    int_exprs => "int_exprs.wast",
    int_literals => "int_literals.wast",
    labels => "labels.wast",
    left_to_right => "left-to-right.wast",
    linking => "linking.wast",
    load => "load.wast",
    local_get => "local_get.wast",
    local_set => "local_set.wast",
    local_tee => "local_tee.wast",
    loop_script => "loop.wast",
    memory => "memory.wast",
    memory_copy => "memory_copy.wast",
    memory_fill => "memory_fill.wast",
    memory_grow => "memory_grow.wast",
    memory_init => "memory_init.wast",
    memory_redundancy => "memory_redundancy.wast",
    memory_size => "memory_size.wast",
    memory_trap => "memory_trap.wast",
    names => "names.wast",
    nop => "nop.wast",
    obsolete_keywords => "obsolete-keywords.wast",
    ref_func => "ref_func.wast",
    ref_is_null => "ref_is_null.wast",
    ref_null => "ref_null.wast",
    return_script => "return.wast",
    select => "select.wast",
    skip_stack_guard_page => "skip-stack-guard-page.wast",
    stack => "stack.wast",
    start => "start.wast",
    store => "store.wast",
    switch => "switch.wast",
    table_sub => "table-sub.wast",
    table => "table.wast",
    table_copy => "table_copy.wast",
    table_fill => "table_fill.wast",
    table_get => "table_get.wast",
    table_grow => "table_grow.wast",
    table_init => "table_init.wast",
    table_set => "table_set.wast",
    table_size => "table_size.wast",
    token => "token.wast",
    traps => "traps.wast",
    type_script => "type.wast",
    unreachable => "unreachable.wast",
    unreached_invalid => "unreached-invalid.wast",
    unreached_valid => "unreached-valid.wast",
    unwind => "unwind.wast",
    utf8_custom_section_id => "utf8-custom-section-id.wast",
    utf8_import_field => "utf8-import-field.wast",
    utf8_import_module => "utf8-import-module.wast",
    utf8_invalid_encoding => "utf8-invalid-encoding.wast",
}

#[test]
fn every_script_of_the_suite_has_a_test() {
    let suite: Vec<String> = wasm_v2_scripts()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let listed: Vec<String> = ALL.iter().map(|name| name.to_string()).collect();
    assert_eq!(
        suite, listed,
        "the pinned suite and this file's list differ"
    );
}

/// The whole suite again with every function translated by the
/// compiler's slot strategy, which normally only very large or
/// high-pressure functions take (`docs/vm.md`, two translation
/// strategies): both strategies must pass every directive.
#[test]
fn whole_suite_with_the_slot_strategy() {
    let failures = std::thread::Builder::new()
        .stack_size(SCRIPT_THREAD_STACK)
        .spawn(|| {
            let mut failures = Vec::new();
            let mut passed = 0;
            for (name, text) in wasm_v2_scripts() {
                let mut config = detvm_vm::EngineConfig::spec();
                config.slot_strategy_only = true;
                let report = run_script_with(&name, text, config);
                passed += report.passed;
                failures.extend(
                    report
                        .failures
                        .iter()
                        .map(|f| format!("  {name}:{}: {}", f.line, f.message)),
                );
            }
            assert!(passed > 20_000, "only {passed} directives passed");
            failures
        })
        .expect("spawn script thread")
        .join()
        .expect("the harness never panics");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
