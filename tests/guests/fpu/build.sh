#!/usr/bin/env bash
# Rebuild the FPU test guests (tests/guests/fpu/*.c) into bin/NAME.TARGET:
#   NAME.glibc-x86_64   gcc      -O2 -static
#   NAME.glibc-i386     gcc -m32 -O2 -static
#   NAME.musl-x86_64    musl-gcc -O2 -static
# (sigreturn_vdso is i386 only), with --build-id=none so a rebuild is byte-identical.
# The binaries are committed: CI machines have neither gcc-multilib nor musl-tools.
#
# Needs gcc, gcc-multilib and musl-tools (installed with apt when missing and we are root).
# Usage: build.sh [NAME...]   (default: every *.c here)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/bin"

if ! command -v musl-gcc >/dev/null 2>&1 || ! [ -e /usr/lib/gcc/x86_64-linux-gnu/*/32/libgcc.a ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get install -y -q gcc-multilib musl-tools ||
         (apt-get update -q && apt-get install -y -q gcc-multilib musl-tools)) >/dev/null
    else
        echo "build.sh: needs gcc-multilib and musl-tools (apt-get install gcc-multilib musl-tools)" >&2
        exit 1
    fi
fi

if [ "$#" -gt 0 ]; then
    names=("$@")
else
    names=()
    for src in "$here"/*.c; do
        names+=("$(basename "$src" .c)")
    done
fi

common=(-O2 -static -pthread -Wall -Wextra -Werror -Wl,--build-id=none)
mkdir -p "$out"
for name in "${names[@]}"; do
    src="$here/$name.c"
    case "$name" in
        sigreturn_vdso) targets=(glibc-i386) ;;
        *) targets=(glibc-x86_64 glibc-i386 musl-x86_64) ;;
    esac
    for target in "${targets[@]}"; do
        case "$target" in
            glibc-x86_64) cc=(gcc) ;;
            glibc-i386) cc=(gcc -m32) ;;
            musl-x86_64) cc=(musl-gcc) ;;
        esac
        "${cc[@]}" "${common[@]}" "$src" -o "$out/$name.$target" -lm
    done
    echo "built $name"
done
