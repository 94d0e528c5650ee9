#!/usr/bin/env bash
# The cross-architecture part of the README's test command, under
# qemu-user with Debian's cross compilers (installed if missing; run as
# root on a fresh machine):
#
# 1. aarch64: the engine's native-stack tests (the library's frame and
#    counted-loop tests, native_stack, adversarial_frames). They check what
#    no digest can show: that the stack bound holds against this target's
#    real frames, so a hostile module ends in a trap and never in a
#    crashed process. Also the trap handler's own tests (trap_sites,
#    trap_handler_chain): nested calls, threads and signals detvm does not
#    own, which the corpus's traps do not reach. The rest of the engine's
#    tests have subjects that
#    `detvm reproduce` checks on every target (operators, NaNs, traps, gas,
#    host functions, the spec suite) or that do not depend on the target
#    (the compiler's work at the contract limits, the differential
#    comparison with wasmi); they run natively.
# 2. aarch64, riscv64 and s390x (big-endian): `detvm reproduce`, the whole
#    built-in corpus, must equal the reference digests on each.
#
# Arguments go to the aarch64 `cargo test` (e.g. `--test native_stack`).
# With DETVM_CROSS_FREE_BUILDS=1 (CI sets it) the targets' build
# directories are deleted once the last step has run: they hold about 4 GB,
# and the steps after these need that disk.
set -euo pipefail
cd "$(dirname "$0")/.."

free_build() {
  if [ "${DETVM_CROSS_FREE_BUILDS:-0}" = 1 ]; then
    rm -rf "${CARGO_TARGET_DIR:-target}/$1"
  fi
}

if [ $# -eq 0 ]; then
  set -- -p detvm-vm --lib --test native_stack --test adversarial_frames \
    --test trap_sites --test trap_handler_chain -- --skip compile::tests::limits
fi
scripts/cross-check.sh aarch64-unknown-linux-gnu "$@"
targets=(aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu s390x-unknown-linux-gnu)
scripts/cross-check.sh "$(IFS=,; echo "${targets[*]}")" reproduce
for target in "${targets[@]}"; do
  free_build "$target"
done
