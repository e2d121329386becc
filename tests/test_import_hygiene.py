"""`syscall-lab run` never imports textual, and emu/ kernel_model/ never import the UI."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_run_does_not_import_textual():
    code = (
        "import sys, tui.cli\n"
        "status = tui.cli.main(['run', 'hello-syscall'])\n"
        "assert status == 0, status\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print('IMPORTED:', bad)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "IMPORTED: []" in r.stdout


def test_machine_and_kernel_never_import_the_screen():
    for package in ("emu", "kernel_model"):
        for path in (ROOT / package).rglob("*.py"):
            for line in path.read_text().splitlines():
                stripped = line.strip()
                assert not stripped.startswith(("import textual", "from textual",
                                                "import tui", "from tui")), (path, line)
