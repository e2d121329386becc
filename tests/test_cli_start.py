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


def command(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", COMMAND, *argv], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_as_a_command_the_output_and_status_are_the_same_as_in_process(capfd):
    for argv in (["run", "hello.glibc-x86_64"], ["run", "-s", "--seed", "1", "fork-wait.glibc-x86_64"],
                 ["run", "exit-status-asm"]):
        r = command(*argv)
        status = main(argv)
        out, err = capfd.readouterr()
        assert (r.returncode, r.stdout, r.stderr) == (status, out, err), argv


def test_a_caller_of_main_keeps_its_collector():
    frozen = gc.get_freeze_count()
    assert main(["run", "hello.glibc-x86_64"]) == 0
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
