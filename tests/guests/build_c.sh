#!/usr/bin/env bash
# Rebuild a directory's C test guests (tests/guests/DIR/*.c) into DIR/bin/NAME.TARGET:
#   NAME.glibc-x86_64   gcc      -O2 -static
#   NAME.glibc-i386     gcc -m32 -O2 -static
#   NAME.musl-x86_64    musl-gcc -O2 -static
# with -pthread for the threaded ones and --build-id=none so a rebuild is byte-identical.
# The binaries are committed: CI machines have neither gcc-multilib nor musl-tools.
# Symbols are kept: the emulator shows them, which helps when a guest misbehaves.
#
# Needs gcc, gcc-multilib and musl-tools (installed with apt when missing and we are root).
# Usage: build_c.sh DIR [NAME...]   (default: every *.c in DIR); each DIR's build.sh calls it
set -euo pipefail

here="$(cd "$1" && pwd)"
shift
out="$here/bin"

if ! command -v musl-gcc >/dev/null 2>&1 || ! [ -e /usr/lib/gcc/x86_64-linux-gnu/*/32/libgcc.a ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get install -y -q gcc-multilib musl-tools ||
         (apt-get update -q && apt-get install -y -q gcc-multilib musl-tools)) >/dev/null
    else
        echo "build_c.sh: needs gcc-multilib and musl-tools (apt-get install gcc-multilib musl-tools)" >&2
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
    extra=()
    case "$name" in
        thread*) extra=(-pthread) ;;
    esac
    src="$here/$name.c"
    gcc          "${common[@]}" "${extra[@]}" "$src" -o "$out/$name.glibc-x86_64"
    gcc -m32     "${common[@]}" "${extra[@]}" "$src" -o "$out/$name.glibc-i386"
    musl-gcc     "${common[@]}" "${extra[@]}" "$src" -o "$out/$name.musl-x86_64"
    echo "built $name"
done
