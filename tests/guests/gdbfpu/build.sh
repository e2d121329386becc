#!/usr/bin/env bash
# Rebuild the gdb x87/SSE register guests into bin/ (the binaries are committed):
#   fpregs64.asm -> fpregs64 (nasm -felf64, ld)   fpregs32.asm -> fpregs32 (nasm -felf32)
# Usage: build.sh   (needs nasm and binutils)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/bin"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

nasm -f elf64 "$here/fpregs64.asm" -o "$tmp/fpregs64.o"
ld --build-id=none -o "$out/fpregs64" "$tmp/fpregs64.o"
nasm -f elf32 "$here/fpregs32.asm" -o "$tmp/fpregs32.o"
ld --build-id=none -m elf_i386 -o "$out/fpregs32" "$tmp/fpregs32.o"
echo "built into $out"
