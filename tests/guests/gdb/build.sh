#!/usr/bin/env bash
# Rebuild this directory's C guests (bin/NAME.glibc-x86_64, .glibc-i386, .musl-x86_64):
# tests/guests/build_c.sh says how. Usage: build.sh [NAME...]
exec bash "$(dirname "${BASH_SOURCE[0]}")/../build_c.sh" "$(dirname "${BASH_SOURCE[0]}")" "$@"
