"""`syscall-lab run` as the process's command holds the garbage collector back while it
starts and skips taking the run apart at exit (tui/cli.py, issue 16): the output and the
status are the same, and a caller of main(argv), which lives on, keeps its collector."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "import sys; from tui.cli import main; sys.exit(main())"  # what the script does
CALLER = "import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))"


def python(code: str, *argv: str) -> tuple[int, str, str]:
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    return r.returncode, r.stdout, r.stderr


def test_as_a_command_the_output_and_status_are_a_callers():
    for argv in (["run", "hello.glibc-x86_64"], ["run", "-s", "--seed", "1",
                 "fork-wait.glibc-x86_64"], ["run", "exit-status-asm"]):
        assert python(COMMAND, *argv) == python(CALLER, *argv), argv


def test_a_caller_of_main_keeps_its_collector():
    frozen = gc.get_freeze_count()
    assert main(["run", "hello.glibc-x86_64"]) == 0
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
