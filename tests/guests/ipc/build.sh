#!/usr/bin/env bash
# Rebuild the System V IPC and shared-mapping test guests (tests/guests/ipc/*.c) into
# bin/NAME.TARGET, as tests/guests/build_c.sh does:
#   NAME.glibc-x86_64   gcc      -O2 -static
#   NAME.glibc-i386     gcc -m32 -O2 -static   (glibc's i386 build uses ipc(2) for all)
#   NAME.musl-x86_64    musl-gcc -O2 -static
# ipc_mux (raw ipc(2) calls) exists for i386 only. The binaries are committed: CI machines
# have neither gcc-multilib nor musl-tools.
# Usage: build.sh [NAME...]   (default: every *.c here)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/bin"

if ! command -v musl-gcc >/dev/null 2>&1 || ! [ -e /usr/lib/gcc/x86_64-linux-gnu/*/32/libgcc.a ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get install -y -q gcc-multilib musl-tools ||
         (apt-get update -q && apt-get install -y -q gcc-multilib musl-tools)) >/dev/null
    else
        echo "build.sh: needs gcc-multilib and musl-tools" >&2
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

common=(-O2 -static -Wall -Wextra -Werror -Wl,--build-id=none)
mkdir -p "$out"
for name in "${names[@]}"; do
    src="$here/$name.c"
    gcc -m32 "${common[@]}" "$src" -o "$out/$name.glibc-i386"
    if [ "$name" != ipc_mux ]; then
        gcc      "${common[@]}" "$src" -o "$out/$name.glibc-x86_64"
        musl-gcc "${common[@]}" "$src" -o "$out/$name.musl-x86_64"
    fi
    echo "built $name"
done
