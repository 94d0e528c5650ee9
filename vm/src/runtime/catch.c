/*
 * The only C in detvm: calling compiled code under setjmp, and leaving it
 * with longjmp from the signal handler when it executes a trap instruction
 * or a faulting access faults (docs/vm.md, "Traps: explicit checks",
 * "Faulting loads"). Rust cannot call setjmp itself
 * (a function that returns twice is not something it can express), and
 * C's setjmp/longjmp save and restore the callee-saved registers of every
 * architecture detvm runs on without assembly of our own.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <ucontext.h>

/*
 * Calls body(arg) with a jump buffer whose address is stored in *slot
 * first; returns 0 when body returned and 1 when detvm_unwind jumped back.
 * _setjmp saves no signal mask: the handler runs with SA_NODEFER, so a
 * jump out of it leaves the mask as it was.
 */
int detvm_catch(void **slot, void (*body)(void *), void *arg) {
    jmp_buf buf;
    if (_setjmp(buf) != 0) {
        return 1;
    }
    *slot = &buf;
    body(arg);
    return 0;
}

/* Jumps back into the detvm_catch that filled buf; never returns. */
void detvm_unwind(void *buf) {
    _longjmp(*(jmp_buf *)buf, 1);
}

/*
 * The address of the instruction a SIGILL, SIGSEGV or SIGBUS interrupted.
 * On s390x the kernel reports the address after the instruction for a
 * SIGILL, and the faulting instruction itself for the others; Cranelift
 * records trap instructions at their last byte and faulting accesses at
 * their first, so a SIGILL is looked up one byte back.
 */
uintptr_t detvm_trap_pc(void *context, int signum) {
    ucontext_t *uc = (ucontext_t *)context;
#if defined(__x86_64__)
    (void)signum;
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    (void)signum;
    return (uintptr_t)uc->uc_mcontext.pc;
#elif defined(__riscv) && __riscv_xlen == 64
    (void)signum;
    return (uintptr_t)uc->uc_mcontext.__gregs[REG_PC];
#elif defined(__s390x__)
    return (uintptr_t)uc->uc_mcontext.psw.addr - (signum == SIGILL ? 1 : 0);
#else
#error "detvm: no trap handler for this architecture"
#endif
}
