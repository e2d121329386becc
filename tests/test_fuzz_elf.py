"""Fuzzing the ELF loader: seeded mutations of the bundled static programs (program-header
fields, e_entry, e_phnum/e_phoff/e_phentsize, truncations, random bytes), each run through
`syscall-lab run --max-insns --timeout` (tests/elf_fuzz.py). Every outcome must be the
guest's own status, 128+signal, or status 2 with one line of ours; never a traceback, an
internal error, or a hang past the limits.

The suite runs a fixed, seeded batch (about 10 s). SYSCALL_LAB_FUZZ=N runs N cases by hand
(SYSCALL_LAB_FUZZ_SEED=S picks another batch); `python tests/elf_fuzz.py SEED N [DIR]`
does the same outside pytest and keeps the failing files."""

from __future__ import annotations

import os

from elf_fuzz import fuzz

SUITE_CASES = 150


def test_mutated_elfs_never_break_the_rules(tmp_path):
    count = int(os.environ.get("SYSCALL_LAB_FUZZ", SUITE_CASES))
    seed = int(os.environ.get("SYSCALL_LAB_FUZZ_SEED", 9))
    problems = [f"case {case.index} ({case.source}: {'; '.join(case.mutations)}): {problem}"
                for case, problem in fuzz(seed, count, tmp_path)]
    assert not problems, "\n".join(problems[:20])
