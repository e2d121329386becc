"""`syscall-lab run` never imports textual, and the layers hold: tui -> programs ->
kernel_model -> emu, only emu imports Unicorn, only tui imports Textual (the import-linter
contracts in pyproject.toml, checked here as .ci/run checks them)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("emu", "kernel_model", "programs", "tui")


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


def _lint_imports(tree: Path) -> subprocess.CompletedProcess:
    """lint-imports over the packages in `tree`, with its pyproject.toml's contracts."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, "
            "no_logo=True))")
    # The tree's own packages first on the path: a copy is checked, not the installed ones.
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})


def test_the_import_contracts_hold():
    r = _lint_imports(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout, r.stdout


def _all_but_python(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__" or not (
        n.endswith(".py") or os.path.isdir(os.path.join(folder, n)))]


def _copy_of_the_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=_all_but_python)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _inject(tree: Path, module: str, line: str) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}\n")


def test_a_wrong_way_import_breaks_the_layers(tmp_path):
    tree = _copy_of_the_tree(tmp_path)
    _inject(tree, "kernel_model/clock.py", "import tui.cli  # the kernel reaching up")
    r = _lint_imports(tree)
    assert r.returncode != 0, r.stdout
    assert "Layers point one way: tui -> programs -> kernel_model -> emu BROKEN" in r.stdout
    assert "kernel_model.clock -> tui.cli" in r.stdout


def test_unicorn_outside_emu_breaks_its_contract(tmp_path):
    tree = _copy_of_the_tree(tmp_path)
    _inject(tree, "kernel_model/clock.py", "import unicorn  # the kernel reaching past emu")
    _inject(tree, "programs/lesson.py", "import textual  # content reaching for the screen")
    r = _lint_imports(tree)
    assert r.returncode != 0, r.stdout
    assert "Only emu speaks to the CPU emulator (Unicorn) BROKEN" in r.stdout
    assert "kernel_model.clock -> unicorn" in r.stdout
    assert "Only tui draws the screen (Textual) BROKEN" in r.stdout
    assert "programs.lesson -> textual" in r.stdout
