"""The repository's docs hold what the code points to: every "§N" the code cites is a section
of docs/kernel_facts.md, and every `path:name` in docs/architecture.md is a file that defines
that name, so a function that moves fails here rather than misleading a reader."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FACTS = DOCS / "kernel_facts.md"
ARCHITECTURE = DOCS / "architecture.md"
PACKAGES = ("emu", "kernel_model", "programs", "tui", "tests")

SECTION = re.compile(r"§(\d+)")
HEADING = re.compile(r"^## (\d+)\. ", re.M)
# `kernel_model/kernel.py:Kernel._on_syscall`
REFERENCE = re.compile(r"`((?:%s)/[\w/]+\.py):([\w.]+)`" % "|".join(PACKAGES))
# `programs/lessons/`, `tui/panels/__init__.py`, `kernel_model/tables/x86_64.py`
PATH = re.compile(r"`((?:%s)/[\w/.-]*)`" % "|".join(PACKAGES))


def _sources() -> list[Path]:
    """Files that may cite a section: the code, the tests and the Markdown beside them."""
    files = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    for package in PACKAGES:
        files += sorted((ROOT / package).rglob("*.py"))
        files += sorted((ROOT / package).rglob("*.md"))
    return files


def _citations() -> list[tuple[str, str, str]]:
    """(section number, file:line, the line) for every "§N" cited."""
    found = []
    for path in _sources():
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in SECTION.finditer(line):
                found.append((m.group(1), f"{path.relative_to(ROOT)}:{no}", line.strip()))
    return found


def test_every_cited_section_is_a_heading_of_kernel_facts():
    sections = set(HEADING.findall(FACTS.read_text(encoding="utf-8")))
    citations = _citations()
    assert len(citations) >= 20, "the scan should find the code's citations"
    missing = [f"{where}: §{n}" for n, where, _ in citations if n not in sections]
    assert not missing, "sections not in docs/kernel_facts.md:\n" + "\n".join(missing)


def test_kernel_facts_sections_are_numbered_in_order():
    numbers = [int(n) for n in HEADING.findall(FACTS.read_text(encoding="utf-8"))]
    assert numbers == list(range(1, len(numbers) + 1))


def test_citations_name_a_file_of_the_repository():
    # The code says "docs/kernel_facts.md §N"; text shown on screen says "KERNEL_FACTS §N",
    # the title of the same file. A bare "§N" in docs/ means that file too.
    loose = [f"{where}: {line}" for _, where, line in _citations()
             if not where.startswith("docs/")
             and "docs/kernel_facts.md" not in line and "KERNEL_FACTS" not in line]
    assert not loose, "citations that do not say where:\n" + "\n".join(loose)
    assert "KERNEL_FACTS" in FACTS.read_text(encoding="utf-8").splitlines()[0]


def _defines(tree: ast.Module, dotted: str) -> bool:
    """Whether `dotted` (a name, or Class.method) is defined at the top of `tree`."""
    body: list[ast.stmt] = tree.body
    for part in dotted.split("."):
        found = None
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name == part:
                    found = node
            elif isinstance(node, ast.Assign):
                if any(isinstance(t, ast.Name) and t.id == part for t in node.targets):
                    found = node
            elif isinstance(node, ast.AnnAssign):
                if isinstance(node.target, ast.Name) and node.target.id == part:
                    found = node
        if found is None:
            return False
        body = found.body if isinstance(found, ast.ClassDef) else []
    return True


def test_architecture_references_name_functions_that_exist():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    references = REFERENCE.findall(text)
    assert len(references) >= 30, "the walk names a file:function per hop"
    trees: dict[str, ast.Module] = {}
    stale = []
    for path, name in references:
        file = ROOT / path
        if not file.is_file():
            stale.append(f"{path}:{name}: no such file")
            continue
        if path not in trees:
            trees[path] = ast.parse(file.read_text(encoding="utf-8"))
        if not _defines(trees[path], name):
            stale.append(f"{path}:{name}: not defined there")
    assert not stale, "docs/architecture.md is out of date:\n" + "\n".join(stale)


def test_paths_in_the_docs_exist():
    missing = []
    for doc in (ARCHITECTURE, FACTS, ROOT / "README.md"):
        for path in PATH.findall(doc.read_text(encoding="utf-8")):
            if "NAME" in path:
                continue  # a pattern (`programs/exercises/NAME/`), not a file
            if not (ROOT / path).exists():
                missing.append(f"{doc.name}: {path}")
    assert not missing, "paths named in the docs that do not exist:\n" + "\n".join(missing)


def test_readme_points_to_the_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/architecture.md" in readme and "docs/kernel_facts.md" in readme
