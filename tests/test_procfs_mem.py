"""/proc/<pid>/mem (kernel_model/files/proc_mem.py): a process's memory as a file whose
offsets are addresses. The classic trick of copying the vDSO out with busybox dd, natively
and under syscall-lab; another process's memory read the same way; who may open it; and
pagemap's and smaps' view of which pages are present.

proc_self's differential runs (tests/test_procfs_root.py) cover pread/pwrite of variables,
FOLL_FORCE writes, EIO at holes and [vvar], for the three builds; the bundled
proc-mem-vdso program's page is checked by tests/test_programs.py."""

from __future__ import annotations

import pytest
from guest_harness import (
    busybox_bin_dir,
    busybox_for,
    differences,
    lab_run_args,
    run_lab,
    run_native,
)
from test_files import PID, E
from test_procfs_pids import Family, _process

from kernel_model.files.uapi import O_RDONLY, O_RDWR

# The shell finds [vdso] in its own maps, and dd (its child) copies it out of the shell's
# memory: dd's offsets are addresses, its blocks pages. Only what is the same on every
# Linux is printed: the page count, the ELF magic, and that dd copied every byte.
VDSO_DD = r"""
line=$(grep '\[vdso\]' /proc/$$/maps)
start=${line%%-*}
end=${line#*-}; end=${end%% *}
pages=$(( (0x$end - 0x$start) / 4096 ))
dd if=/proc/$$/mem bs=4096 skip=$((0x$start / 4096)) count=$pages of=$1 2>/dev/null
echo "dd status $? pages $pages"
echo "bytes $(wc -c < $1)"
head -c 4 $1 | od -An -c
dd if=/proc/$$/mem bs=4096 skip=1 count=1 of=/dev/null 2>&1 | sed 's/[0-9]//g' | head -1
"""


@pytest.fixture(scope="module")
def bb(tmp_path_factory):
    busybox = busybox_for("x86_64")
    if isinstance(busybox, str):
        pytest.skip(busybox)
    return busybox_bin_dir(busybox, tmp_path_factory.mktemp("bb"))


def test_dd_copies_the_vdso_out_of_proc_pid_mem_as_on_linux(bb, tmp_path):
    script = tmp_path / "vdso.sh"
    script.write_text(VDSO_DD)
    out = tmp_path / "out"
    out.mkdir()
    native = run_native([str(bb / "sh"), str(script), str(out / "vdso.so")],
                        env={"PATH": str(bb)})
    lab = run_lab(*lab_run_args(), "--mount", f"{bb}:/bin", "--mount", f"{tmp_path}:/w:rw",
                  str(bb / "sh"), "/w/vdso.sh", "/w/out/vdso.so")
    assert b"177   E   L   F" in native.stdout
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    # the file the guest wrote is the vDSO image the model built for it
    image = (out / "vdso.so").read_bytes()
    assert image[:4] == b"\x7fELF" and len(image) % 4096 == 0


def test_mem_opens_for_the_owner_and_root_only():
    fam = Family()
    theirs = _process(4400, PID, uid=0)
    fam.table.add(theirs)
    k = fam.k
    assert k.open("/proc/4400/mem", O_RDONLY) == E("EACCES")  # uid 1000, not 0
    assert k.open(f"/proc/{PID}/mem", O_RDWR) >= 0
    assert k.stat(f"/proc/{PID}/mem")["st_mode"] & 0o777 == 0o600
    assert k.stat(f"/proc/{PID}/pagemap")["st_mode"] & 0o777 == 0o400


def test_mem_lseek_takes_addresses_and_refuses_seek_end():
    fam = Family()
    k = fam.k
    fd = k.open(f"/proc/{PID}/mem", O_RDONLY)
    assert k.call("lseek", fd, 0x7FFD1000, 0) == 0x7FFD1000
    assert k.call("lseek", fd, 0x10, 1) == 0x7FFD1010
    assert k.call("lseek", fd, 0, 2) == E("EINVAL")


def test_a_zombie_s_mem_reads_as_empty():
    fam = Family()
    fam.a.exit_code = 0  # ended, not reaped
    k = fam.k
    fd = k.open("/proc/4300/mem", O_RDONLY)
    assert fd >= 0
    assert k.read_fd(fd, 16) == b""


def test_pagemap_and_smaps_of_a_running_guest(bb):
    """A shell's pagemap has present entries in its stack and none past the mappings; its
    smaps counts one block per mapping."""
    script = ("set -- $(grep '\\[stack\\]' /proc/$$/maps); top=${1#*-}; "
              "dd if=/proc/$$/pagemap bs=8 skip=$(( (0x$top - 4096) / 4096 )) count=1 "
              "2>/dev/null | od -An -tx8; "
              "dd if=/proc/$$/pagemap bs=8 skip=16 count=1 2>/dev/null | od -An -tx8")
    lab = run_lab(*lab_run_args(), "--mount", f"{bb}:/bin", str(bb / "sh"), "-c", script)
    top_page, low_page = (int(word, 16) for word in lab.stdout.split())
    assert top_page >> 63 == 1  # the stack's top page: argv and envp are there
    assert top_page & ((1 << 55) - 1) == 0  # no PFN: what an unprivileged reader sees
    assert low_page == 0  # address 0x10000: nothing mapped


def test_an_open_mem_outlives_its_process_and_then_reads_empty():
    fam = Family()
    k = fam.k
    fd = k.open("/proc/4300/mem", O_RDONLY)  # while 4300 runs
    assert k.call("lseek", fd, 0x400000, 0) == 0x400000
    fam.a.exit_code = 0  # it ends: its memory is gone (exit_mm)
    assert k.read_fd(fd, 16) == b""
