#!/usr/bin/env bash
# Linux's own selftests (tools/testing/selftests/vDSO and x86) for the differential tests
# against the host kernel: Debian's linux-source-6.12 package, unpacked beside the checkout
# at ../linux-src/linux-source-6.12 (where the tests look, unless SYSCALL_LAB_LINUX_SRC
# says otherwise). Only the parts the tests build from are kept. The tests skip without it.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=linux-src
[ -d "$dest/linux-source-6.12/tools/testing/selftests/x86" ] && exit 0
mkdir -p "$dest" && cd "$dest"
if ! ls linux-source-6.12_*.deb >/dev/null 2>&1; then
  apt-get download linux-source-6.12 >/dev/null 2>&1 ||
    (apt-get update -q >/dev/null && apt-get download linux-source-6.12 >/dev/null 2>&1)
fi
dpkg-deb --fsys-tarfile linux-source-6.12_*.deb |
  tar -xO ./usr/src/linux-source-6.12.tar.xz |
  tar -xJ linux-source-6.12/tools/testing/selftests/x86 linux-source-6.12/tools/testing/selftests/vDSO \
    linux-source-6.12/tools/testing/selftests/kselftest.h linux-source-6.12/tools/include \
    linux-source-6.12/tools/arch/x86 linux-source-6.12/include linux-source-6.12/arch/x86/include \
    linux-source-6.12/arch/x86/kernel linux-source-6.12/arch/x86/ia32 linux-source-6.12/arch/x86/entry \
    linux-source-6.12/lib/vdso 2>/dev/null || true
rm -f linux-source-6.12_*.deb
[ -d linux-source-6.12/tools/testing/selftests/x86 ]
