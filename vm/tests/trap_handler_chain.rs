//! A `SIGILL`, `SIGSEGV` or `SIGBUS` that is not from a trap site goes to
//! the handler that was installed before detvm's (`docs/vm.md`, "The
//! handler"). Its own test binary: signal handlers belong to the whole
//! process.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

use detvm_vm::*;

static SEEN: AtomicUsize = AtomicUsize::new(0);
static SEEN_FAULTS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn host_handler(signum: c_int, _: *mut libc::siginfo_t, _: *mut c_void) {
    if signum == libc::SIGILL {
        SEEN.fetch_add(1, Ordering::SeqCst);
    } else {
        SEEN_FAULTS.fetch_add(1, Ordering::SeqCst);
    }
}

/// Installs [`host_handler`] for `signum`.
fn install_host_handler(signum: c_int) {
    // SAFETY: installing a handler that only counts, with a zeroed action
    // filled as SA_SIGINFO wants.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = host_handler as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(signum, &action, std::ptr::null_mut()), 0);
    }
}

/// The trap `name` ends with for `arg`, if any.
fn trap_of(instance: &Instance, store: &mut Store<()>, name: &str, arg: i32) -> Option<TrapKind> {
    match instance
        .call(store, name, &[Value::I32(arg)], 1_000_000)
        .expect("runs")
    {
        Outcome::Trap { kind, .. } => Some(kind),
        Outcome::Success { .. } => None,
    }
}

fn divide(instance: &Instance, store: &mut Store<()>, by: i32) -> Option<TrapKind> {
    trap_of(instance, store, "div", by)
}

fn load(instance: &Instance, store: &mut Store<()>, at: i32) -> Option<TrapKind> {
    trap_of(instance, store, "load", at)
}

#[test]
fn a_signal_detvm_does_not_own_reaches_the_handler_installed_before() {
    install_host_handler(libc::SIGILL);
    install_host_handler(libc::SIGSEGV);
    install_host_handler(libc::SIGBUS);
    let engine = Engine::default();
    let wat = r#"(module (memory 1)
      (func (export "div") (param i32) (result i32)
        (i32.div_u (i32.const 10) (local.get 0)))
      (func (export "load") (param i32) (result i32)
        (i32.load (local.get 0))))"#;
    let module = Module::new(&engine, &wat::parse_str(wat).expect("wat")).expect("compiles");
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &Linker::new(&engine)).expect("instantiates");

    // The first call installs detvm's handler in front of the host's.
    assert_eq!(
        divide(&instance, &mut store, 0),
        Some(TrapKind::IntegerDivideByZero)
    );
    assert_eq!(SEEN.load(Ordering::SeqCst), 0, "a trap site is detvm's own");

    // SAFETY: raising a signal whose handler only counts.
    unsafe { libc::raise(libc::SIGILL) };
    assert_eq!(
        SEEN.load(Ordering::SeqCst),
        1,
        "passed on to the host's handler"
    );

    // Both keep working.
    assert_eq!(
        divide(&instance, &mut store, 0),
        Some(TrapKind::IntegerDivideByZero)
    );
    assert_eq!(divide(&instance, &mut store, 5), None);
    // SAFETY: as above.
    unsafe { libc::raise(libc::SIGILL) };
    assert_eq!(SEEN.load(Ordering::SeqCst), 2);

    // A faulting load (on targets that have them, an explicit check
    // elsewhere) is detvm's; a SIGSEGV or SIGBUS raised by the process is
    // the host's.
    assert_eq!(
        load(&instance, &mut store, 65_533),
        Some(TrapKind::MemoryOutOfBounds)
    );
    assert_eq!(load(&instance, &mut store, 65_532), None);
    assert_eq!(SEEN_FAULTS.load(Ordering::SeqCst), 0);
    // SAFETY: raising signals whose handler only counts.
    unsafe {
        libc::raise(libc::SIGSEGV);
        libc::raise(libc::SIGBUS);
    }
    assert_eq!(SEEN_FAULTS.load(Ordering::SeqCst), 2);
    assert_eq!(
        load(&instance, &mut store, -1),
        Some(TrapKind::MemoryOutOfBounds)
    );
    assert_eq!(SEEN.load(Ordering::SeqCst), 2);
}
