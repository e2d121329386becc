#!/usr/bin/env bash
# Rebuild the bundled guest programs (programs/c/*.c) into programs/bin/.
#
# Every program is built statically for three targets:
#   <name>.glibc-x86_64   gcc      -O2 -static
#   <name>.glibc-i386     gcc -m32 -O2 -static
#   <name>.musl-x86_64    musl-gcc -O2 -static
# plus hello as a glibc x86-64 static-PIE:
#   hello.glibc-x86_64-pie   gcc -O2 -static-pie -fPIE
# and the dynamically linked programs (what a plain `gcc hello.c` builds: a PIE that
# needs ld.so and libc.so.6 at run time, so only the glibc builds, whose libc every
# Debian-like host has):
#   <name>.glibc-x86_64   gcc      -O2
#   <name>.glibc-i386     gcc -m32 -O2
#
# Symbols are kept (no stripping): the emulator displays them.
# --build-id=none keeps the output reproducible.
#
# Needs: gcc, gcc-multilib (for -m32), musl-tools (for musl-gcc).
#   apt-get install -y gcc gcc-multilib musl-tools
#
# Runnable from any directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/c"
out="$here/bin"

programs=(hello seed getpid_loop gettimeofday_loop compute_loop maps special_maps
          printf_lost errno_enoent brk_mmap sigsegv_handler vdso_dump
          fork_wait exit_status zombie_orphan pipe_child echo_args upcase exec_echo
          fork_exec pipeline race mutex sigchld proc_mem_vdso)
dynamic=(hello_dynamic)
common=(-O2 -Wall -Wextra -Wl,--build-id=none)

# --- check the compilers before building anything -------------------------
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf 'int main(void){return 0;}\n' > "$tmp/probe.c"

missing=0
check() {   # check <description> <install hint> <compiler and flags...>
    local what="$1" hint="$2"; shift 2
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "error: $what: '$1' not found (install: $hint)" >&2
        missing=1
    elif ! "$@" "$tmp/probe.c" -o "$tmp/probe" >/dev/null 2>&1; then
        echo "error: $what: '$*' cannot build a static program (install: $hint)" >&2
        missing=1
    fi
}
check "glibc x86-64 compiler"        "gcc"           gcc -static
check "glibc i386 compiler (-m32)"   "gcc-multilib"  gcc -m32 -static
check "musl x86-64 compiler"         "musl-tools"    musl-gcc -static
check "glibc x86-64 static-PIE"      "gcc"           gcc -static-pie -fPIE
if [ "$missing" -ne 0 ]; then
    echo "build.sh: missing compiler(s), nothing built" >&2
    exit 1
fi

# --- build ----------------------------------------------------------------
mkdir -p "$out"

build() {   # build <output name> <compiler and flags...> ; source from $name
    local target="$1"; shift
    echo "  $* ${common[*]} c/$name.c -o bin/$target"
    # BUILD names the build, for the programs that execute their own build's programs.
    "$@" "${common[@]}" -DBUILD="\"${target#*.}\"" "$src/$name.c" -o "$out/$target"
}

for name in "${programs[@]}"; do
    echo "building $name"
    build "$name.glibc-x86_64" gcc -static
    build "$name.glibc-i386"   gcc -m32 -static
    build "$name.musl-x86_64"  musl-gcc -static
done

name=hello
echo "building hello (static-PIE)"
build "hello.glibc-x86_64-pie" gcc -static-pie -fPIE

for name in "${dynamic[@]}"; do
    echo "building $name (dynamically linked)"
    build "$name.glibc-x86_64" gcc
    build "$name.glibc-i386"   gcc -m32
done

echo "done: $(ls "$out" | wc -l) files in $out"
