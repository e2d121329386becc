#!/usr/bin/env bash
# Fetch Debian bookworm's busybox-static for i386 (a static i386 busybox) without enabling
# multiarch: download the one pinned .deb, check its SHA-256, extract it with dpkg-deb.
# The binary is cached: a second call downloads nothing.
#
# Usage: fetch_busybox_i386.sh [CACHE_DIR]
#   CACHE_DIR defaults to $SYSCALL_LAB_CACHE/busybox-i386, else ~/.cache/syscall-lab/busybox-i386.
# Prints the path of the i386 busybox on stdout; exits 1 (with the reason on stderr) when it
# cannot be fetched, which makes the i386 shell tests skip.
set -euo pipefail

deb="busybox-static_1.35.0-4+deb12u1+b1_i386.deb"
sha256="725ef9e6fbac4ab79b353165b05005e8c140d6e42177ebbc202ff1e13ded8b7c"
sha1="d6dba27d7ab2009d8f0c280f1931e544140a724e"  # snapshot.debian.org names files by SHA-1
urls=("https://deb.debian.org/debian/pool/main/b/busybox/$deb"
      # a later point release drops this build from the pool; the snapshot archive keeps it
      "https://snapshot.debian.org/file/$sha1")

cache="${1:-${SYSCALL_LAB_CACHE:-$HOME/.cache/syscall-lab}/busybox-i386}"
binary="$cache/busybox"
if [ -x "$binary" ]; then
    echo "$binary"
    exit 0
fi
command -v dpkg-deb >/dev/null 2>&1 || { echo "fetch_busybox_i386: dpkg-deb not found" >&2; exit 1; }
mkdir -p "$cache"
work="$(mktemp -d "$cache/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

fetched=0
for url in "${urls[@]}"; do
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --max-time 120 -o "$work/$deb" "$url" 2>/dev/null || continue
    else
        python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
            "$url" "$work/$deb" 2>/dev/null || continue
    fi
    if echo "$sha256  $work/$deb" | sha256sum -c --status; then
        fetched=1
        break
    fi
    echo "fetch_busybox_i386: $url: wrong SHA-256, ignored" >&2
done
if [ "$fetched" -ne 1 ]; then
    echo "fetch_busybox_i386: could not download $deb (tried: ${urls[*]})" >&2
    exit 1
fi
dpkg-deb -x "$work/$deb" "$work/root"
# rename into place last, so an interrupted fetch never leaves a half-written binary cached
mv "$work/root/bin/busybox" "$binary.part"
chmod 755 "$binary.part"
mv "$binary.part" "$binary"
echo "$binary"
