//! Compiles `src/runtime/catch.c`, the `setjmp`/`longjmp` pair that calls
//! compiled code and leaves it when it executes a trap instruction
//! (`docs/vm.md`, "Traps: explicit checks").

fn main() {
    println!("cargo:rerun-if-changed=src/runtime/catch.c");
    cc::Build::new()
        .file("src/runtime/catch.c")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("detvm_catch");
}
