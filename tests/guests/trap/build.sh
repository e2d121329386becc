#!/usr/bin/env bash
# Rebuild the trap test guests into bin/:
#   single_step.c          -> single_step.{glibc-x86_64,glibc-i386,musl-x86_64} (gcc -static,
#                             gcc -m32 -static, musl-gcc -static; -O2, no build id)
#   step64.asm, syscall_number.asm -> NAME (nasm -felf64, ld); step64.asm -DVSYSCALL too
#   step32.asm             -> step32 (nasm -felf32, ld -m elf_i386)
# The binaries are committed, so CI needs none of these tools; the tests run them natively
# and under syscall-lab and compare.
# Usage: build.sh   (needs gcc, gcc-multilib, musl-tools, nasm, binutils)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/bin"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

common=(-O2 -static -Wall -Wextra -Werror -Wl,--build-id=none)
gcc          "${common[@]}" "$here/single_step.c" -o "$out/single_step.glibc-x86_64"
gcc -m32     "${common[@]}" "$here/single_step.c" -o "$out/single_step.glibc-i386"
musl-gcc     "${common[@]}" "$here/single_step.c" -o "$out/single_step.musl-x86_64"

for name in step64 syscall_number; do
    nasm -f elf64 "$here/$name.asm" -o "$tmp/$name.o"
    ld --build-id=none -o "$out/$name" "$tmp/$name.o"
done
nasm -f elf64 -DVSYSCALL "$here/step64.asm" -o "$tmp/step64_vsyscall.o"
ld --build-id=none -o "$out/step64_vsyscall" "$tmp/step64_vsyscall.o"
nasm -f elf32 "$here/step32.asm" -o "$tmp/step32.o"
ld --build-id=none -m elf_i386 -o "$out/step32" "$tmp/step32.o"
echo "built into $out"
