//! Unit tests of the compiler, run against a small instance built by hand
//! from `vmctx` structures (independent of the runtime's own instance
//! code, so a failure here points at the compiler).

mod counted_loops;
mod counters;
mod frames;
mod harness;
mod limits;
mod nan;
mod ops;
mod traps;

#[test]
fn compiled_code_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<super::CompiledCode>();
}

#[test]
fn operators_outside_the_profile_are_errors() {
    let wat = r#"(module (func (drop (i32x4.splat (i32.const 1)))))"#;
    let bytes = wat::parse_str(wat).expect("wat");
    for opt in harness::OPTS {
        match harness::compile(&bytes, opt) {
            Err(super::CompileError::Translate {
                func_index,
                problem: super::TranslateProblem::Operator { operator },
                ..
            }) => {
                assert_eq!(func_index, 0);
                assert!(operator.contains("I32x4Splat"), "{operator}");
            }
            other => panic!("expected a translation error, got {other:?}"),
        }
    }
    let wat = r#"(module (func (param v128)))"#;
    let bytes = wat::parse_str(wat).expect("wat");
    match harness::compile(&bytes, harness::OPTS[0]) {
        Err(super::CompileError::Translate {
            problem: super::TranslateProblem::Signature { type_index: 0 },
            ..
        }) => {}
        other => panic!("expected a signature outside the profile, got {other:?}"),
    }
}

/// Virtual memory size of this process in KiB (Linux only).
#[cfg(target_os = "linux")]
fn vm_size_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize")
}

#[test]
#[cfg(target_os = "linux")]
fn dropping_compiled_code_frees_its_mapping() {
    let bytes =
        wat::parse_str(r#"(module (func (export "f") (result i32) (i32.const 1)))"#).expect("wat");
    let before = vm_size_kib();
    for _ in 0..200 {
        let code = harness::compile(&bytes, harness::OPTS[0]).expect("compiles");
        drop(code);
    }
    let grown_mib = vm_size_kib().saturating_sub(before) / 1024;
    // Each module reserves at least 64 MiB; 200 leaked reservations would
    // be 12.5 GiB. Other tests running meanwhile stay far below the bound.
    assert!(grown_mib < 4096, "address space grew by {grown_mib} MiB");
}
