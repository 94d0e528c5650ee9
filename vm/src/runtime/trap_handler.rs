//! Trap sites: compiled code that fails an explicit check executes a trap
//! instruction (`SIGILL`), and a faulting access outside its memory
//! raises `SIGSEGV` or `SIGBUS`; the handler here turns either into the trap code
//! of the innermost call on the thread, leaving the call through the
//! `longjmp` of `catch.c` (`docs/vm.md`, "Traps: explicit checks",
//! "Faulting loads").
//!
//! Loaded code registers its trap sites in a process-wide table; a call
//! runs its entry trampoline through [`call_catching`], which tells the
//! handler, through a thread-local, where to jump and which `VMRuntime`
//! takes the code. Any other such signal goes on to the handler that was
//! installed before this one for it.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};

use crate::vmctx::{EntryTrampoline, PROPAGATE_TRAP_CODE, VMRuntime, ValRaw};

unsafe extern "C" {
    fn detvm_catch(
        slot: *mut *mut c_void,
        body: unsafe extern "C" fn(*mut c_void),
        arg: *mut c_void,
    ) -> c_int;
    fn detvm_unwind(buf: *mut c_void) -> !;
    fn detvm_trap_pc(context: *mut c_void, signum: c_int) -> usize;
}

/// The trap sites of one loaded code image: `(offset from its start, raw
/// trap code)`, sorted by offset.
struct LoadedSites {
    end: usize,
    id: u64,
    sites: Box<[(u32, u8)]>,
}

/// Loaded code by start address. Written only when code is loaded or
/// dropped, never by a thread while it runs compiled code, so the handler's
/// read cannot wait on its own thread.
static LOADED: RwLock<BTreeMap<usize, LoadedSites>> = RwLock::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Keeps a loaded image's trap sites registered; dropping it removes them.
/// Must be dropped before the code's memory is unmapped.
#[derive(Debug)]
pub(crate) struct Registration {
    start: usize,
    id: u64,
}

/// Registers the trap sites of code mapped at `start..end`; `sites` are
/// `(offset from start, raw trap code)`.
pub(crate) fn register(start: usize, end: usize, mut sites: Vec<(u32, u8)>) -> Registration {
    sites.sort_unstable();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let entry = LoadedSites {
        end,
        id,
        sites: sites.into_boxed_slice(),
    };
    write_loaded().insert(start, entry);
    Registration { start, id }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut loaded = write_loaded();
        if loaded.get(&self.start).is_some_and(|e| e.id == self.id) {
            loaded.remove(&self.start);
        }
    }
}

fn write_loaded() -> std::sync::RwLockWriteGuard<'static, BTreeMap<usize, LoadedSites>> {
    // The table is never left half-updated (one insert or remove), so a
    // poisoned lock still holds consistent data.
    LOADED
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The raw trap code of the trap instruction at `pc`, if it is one.
fn site_at(pc: usize) -> Option<u8> {
    let loaded = LOADED
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (&start, code) = loaded.range(..=pc).next_back()?;
    if pc >= code.end {
        return None;
    }
    let offset = u32::try_from(pc - start).ok()?;
    let i = code.sites.binary_search_by_key(&offset, |&(o, _)| o).ok()?;
    Some(code.sites[i].1)
}

/// The innermost call on this thread: where the handler jumps, and the
/// runtime that takes the trap code.
struct Entry {
    jump: *mut c_void,
    runtime: *mut VMRuntime,
}

thread_local! {
    static CURRENT: Cell<*mut Entry> = const { Cell::new(ptr::null_mut()) };
}

/// What [`call_catching`] hands to the C side: plain values only, because
/// the frame of [`run_trampoline`] is skipped by the `longjmp` and must
/// own nothing that needs dropping.
struct TrampolineCall {
    trampoline: EntryTrampoline,
    code: *const u8,
    vmctx: *mut c_void,
    values: *mut ValRaw,
}

unsafe extern "C" fn run_trampoline(arg: *mut c_void) {
    // SAFETY: `arg` is the `TrampolineCall` that `call_catching` passed,
    // alive for the whole call.
    let call = unsafe { &*(arg as *const TrampolineCall) };
    // SAFETY: the caller of `call_catching` vouches for the trampoline,
    // code, context and values.
    unsafe { (call.trampoline)(call.code, call.vmctx, call.values) }
}

/// The handler could not be installed; every call is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HandlerMissing;

/// Calls `trampoline(code, vmctx, values)` so that a trap instruction in
/// the code it runs ends the call with the instruction's trap code stored
/// in `runtime.trap_code`, as a trap exit would.
///
/// # Safety
///
/// As calling the trampoline directly: `trampoline` was compiled for the
/// signature of `code`, `vmctx` is that code's live context, `values` is
/// laid out for the signature, and `runtime` is the `VMRuntime` that
/// `vmctx` points to.
pub(crate) unsafe fn call_catching(
    runtime: *mut VMRuntime,
    trampoline: EntryTrampoline,
    code: *const u8,
    vmctx: *mut c_void,
    values: *mut ValRaw,
) -> Result<(), HandlerMissing> {
    install_handler()?;
    let mut call = TrampolineCall {
        trampoline,
        code,
        vmctx,
        values,
    };
    let mut entry = Entry {
        jump: ptr::null_mut(),
        runtime,
    };
    let entry: *mut Entry = &mut entry;
    let previous = CURRENT.with(|current| current.replace(entry));
    // SAFETY: `detvm_catch` fills `entry.jump` before it calls
    // `run_trampoline`, and the handler only jumps there while this frame
    // is alive (`CURRENT` points at `entry` until it returns). The
    // pointers stay valid for the call (caller's contract).
    unsafe {
        detvm_catch(
            ptr::addr_of_mut!((*entry).jump),
            run_trampoline,
            ptr::addr_of_mut!(call).cast(),
        )
    };
    CURRENT.with(|current| current.set(previous));
    Ok(())
}

/// The signals the handler owns at trap sites.
const SIGNALS: [c_int; 3] = [libc::SIGILL, libc::SIGSEGV, libc::SIGBUS];

/// The handlers that were installed for [`SIGNALS`] before detvm's, in
/// that order.
static PREVIOUS: OnceLock<Result<[libc::sigaction; 3], HandlerMissing>> = OnceLock::new();

fn install_handler() -> Result<(), HandlerMissing> {
    let installed = PREVIOUS.get_or_init(|| {
        // SAFETY: installing a handler with a zeroed `sigaction` filled in
        // below; the previous handlers are kept to pass on what detvm
        // does not own.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: [libc::sigaction; 3] = std::mem::zeroed();
            for (signum, previous) in SIGNALS.iter().zip(&mut previous) {
                if libc::sigaction(*signum, &action, previous) != 0 {
                    return Err(HandlerMissing);
                }
            }
            Ok(previous)
        }
    });
    installed.map(|_| ())
}

unsafe extern "C" fn on_signal(signum: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel passes the interrupted context.
    let pc = unsafe { detvm_trap_pc(context, signum) };
    let entry = CURRENT.with(Cell::get);
    // A signal another process sent is not the instruction's, whatever
    // the thread was executing.
    if !entry.is_null()
        && !sent_by_a_process(info)
        && let Some(code) = site_at(pc)
    {
        // SAFETY: `entry` is the live `Entry` of the innermost
        // `call_catching` on this thread, whose runtime is alive, and
        // `jump` was filled before compiled code ran. The frames between
        // here and there are compiled code and `run_trampoline`, which own
        // nothing.
        unsafe {
            if code != PROPAGATE_TRAP_CODE {
                (*(*entry).runtime).trap_code = u32::from(code);
            }
            detvm_unwind((*entry).jump)
        }
    }
    // SAFETY: passing on a signal we do not own, as the kernel would have
    // delivered it without us.
    unsafe { pass_on(signum, info, context) }
}

/// Hands a signal detvm does not own to the handler installed before, or
/// restores the default action so that the instruction, executed again,
/// ends the process as it would have without detvm.
unsafe fn pass_on(signum: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    let previous = PREVIOUS
        .get()
        .and_then(|p| p.as_ref().ok())
        .and_then(|all| SIGNALS.iter().position(|&s| s == signum).map(|i| &all[i]));
    match previous {
        Some(prev) if prev.sa_flags & libc::SA_SIGINFO != 0 => {
            // SAFETY: with SA_SIGINFO, `sa_sigaction` is such a handler.
            let handler: unsafe extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
                unsafe { std::mem::transmute(prev.sa_sigaction) };
            // SAFETY: calling it as the kernel would have, with the same
            // arguments.
            unsafe { handler(signum, info, context) }
        }
        Some(prev) if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN => {
            // SAFETY: without SA_SIGINFO, `sa_sigaction` holds a plain
            // handler.
            let handler: unsafe extern "C" fn(c_int) =
                unsafe { std::mem::transmute(prev.sa_sigaction) };
            // SAFETY: as above.
            unsafe { handler(signum) }
        }
        Some(prev) if prev.sa_sigaction == libc::SIG_IGN && sent_by_a_process(info) => {}
        _ => {
            // SAFETY: resetting a signal to its default action; an ignored
            // SIGILL or SIGSEGV would re-execute the instruction forever. A signal
            // some process sent is raised again, as nothing re-executes.
            unsafe {
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigemptyset(&mut default.sa_mask);
                libc::sigaction(signum, &default, ptr::null_mut());
                if sent_by_a_process(info) {
                    libc::raise(signum);
                }
            }
        }
    }
}

/// Whether a signal came from `kill`, `raise` or `sigqueue` rather than
/// from an instruction.
fn sent_by_a_process(info: *mut libc::siginfo_t) -> bool {
    // SAFETY: the kernel passes a valid `siginfo_t` with SA_SIGINFO.
    !info.is_null() && unsafe { (*info).si_code } <= 0
}
