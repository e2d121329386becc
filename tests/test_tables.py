"""The syscall tables are Linux's: compared with the kernel uapi headers where installed."""

import re
from pathlib import Path

import pytest

from kernel_model.tables import i386, x86_64

HEADERS = [Path("/usr/include/x86_64-linux-gnu/asm"), Path("/usr/include/asm")]


def header(name):
    for d in HEADERS:
        if (d / name).exists():
            return {int(n): s for s, n in re.findall(r"#define\s+__NR_(\w+)\s+(\d+)",
                                                     (d / name).read_text())}
    pytest.skip(f"asm/{name} is not installed")


@pytest.mark.parametrize("table, name", [(x86_64.SYSCALLS, "unistd_64.h"),
                                         (i386.SYSCALLS, "unistd_32.h")])
def test_tables_match_the_headers(table, name):
    expected = header(name)
    for nr, sys_name in expected.items():
        assert table.get(nr) == sys_name, nr


def test_well_known_numbers():
    assert (x86_64.SYSCALLS[0], x86_64.SYSCALLS[1], x86_64.SYSCALLS[39], x86_64.SYSCALLS[60],
            x86_64.SYSCALLS[96], x86_64.SYSCALLS[228], x86_64.SYSCALLS[231]) == (
        "read", "write", "getpid", "exit", "gettimeofday", "clock_gettime", "exit_group")
    assert (i386.SYSCALLS[1], i386.SYSCALLS[4], i386.SYSCALLS[20], i386.SYSCALLS[39],
            i386.SYSCALLS[243], i386.SYSCALLS[403]) == (
        "exit", "write", "getpid", "mkdir", "set_thread_area", "clock_gettime64")
