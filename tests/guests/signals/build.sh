#!/usr/bin/env bash
# Rebuild the signal test guests (signals.c, eintr.c) into bin/ with ../build_c.sh: glibc x86-64 and
# i386, musl x86-64, -O2 -static. The binaries are committed (CI has no gcc-multilib);
# tests/test_gdbstub_signals.py runs them under the real gdb, natively and under syscall-lab.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../build_c.sh" "$here" "$@"
