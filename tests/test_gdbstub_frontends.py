"""A gdb front end on `syscall-lab run --gdb`: gdb-dashboard shows its context at a stop
without errors, and its registers and assembly show where the guest stopped.

Of the two front ends the issue names, gdb-dashboard is the one that installs from PyPI or
apt: PyPI's gdbundle-gdb-dashboard (a test dependency in pyproject.toml) ships its
gdbinit script; pwndbg is packaged in neither (it installs from its own repository, with a
gdb of its own), so it is not tested here. The test skips, saying so, when the script is
not installed.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_gdbstub import debug, needs_gdb

# static glibc programs; fenv_flags has one main (no exec) and ends with status 0
GUESTS = ROOT / "tests" / "guests" / "fpu" / "bin"
# An SGR colour nothing else uses, for the dashboard's error style: any error it shows (a
# module's traceback, a register or memory it could not read) is drawn in it.
ERROR_STYLE = "38;5;201"


def dashboard_script() -> Path | None:
    spec = importlib.util.find_spec("gdbundle_gdb_dashboard")
    if spec is None or spec.origin is None:
        return None
    script = Path(spec.origin).parent / "scripts" / "gdb-dashboard.gdb"
    return script if script.is_file() else None


DASHBOARD = dashboard_script()
needs_dashboard = pytest.mark.skipif(
    DASHBOARD is None, reason="gdb-dashboard is not installed "
    "(pip install gdbundle-gdb-dashboard, or pip install -e '.[test]')")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@needs_gdb
@needs_dashboard
@pytest.mark.parametrize("bits", [64, 32])
def test_gdb_dashboard_shows_its_context_at_a_stop(bits):
    program = GUESTS / f"fenv_flags.glibc-{'x86_64' if bits == 64 else 'i386'}"
    pc = "rip" if bits == 64 else "eip"
    out, status, stdout, err = debug(
        program, f"source {DASHBOARD}", f"dashboard -style style_error '{ERROR_STYLE}'",
        "break main", "continue", "echo @pc@\\n", "p/x $pc",
        "echo @context@\\n", "dashboard", "echo @end@\\n", "continue")
    assert f"\x1b[{ERROR_STYLE}m" not in out, out
    text = ANSI.sub("", out)
    for bad in ("Traceback", "Python Exception", "Error occurred in Python",
                "Cannot write the dashboard", "Undefined command"):
        assert bad not in text, text
    assert "Breakpoint 1, " in text, text
    at = int(re.search(r"@pc@\n\$\d+ = (0x[0-9a-f]+)", text)[1], 16)
    context = text.split("@context@\n", 1)[1].split("@end@", 1)[0]
    sections = dict(re.findall(r"^─── (\w[\w/]*) ─+\n(.*?)(?=^─)", context, re.M | re.S))
    assert {"Assembly", "Registers", "Stack", "Threads"} <= sections.keys(), context
    width = 16 if bits == 64 else 8
    address = f"0x{at:0{width}x}"
    assert re.search(rf"\b{pc} {address}\b", sections["Registers"]), context
    # the assembly starts at the stop (`!`: a breakpoint there), its instruction decoded
    first = sections["Assembly"].splitlines()[0]
    assert first.startswith(f"!{address}") and "(bad)" not in first, context
    assert re.search(rf"^\[0\] from {address} in main$", sections["Stack"], re.M), context
    assert "exited normally" in text, text
    assert status == 0, err
