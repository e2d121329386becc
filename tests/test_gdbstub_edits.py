"""What gdb writes at the live end stays in history: the edited state is a point of its
own, at the point it was made. Going back before it shows the state before the edit;
coming forward again to that point (a step, a continue, a breakpoint there, a
reverse-continue onto it) shows the edit, and what runs after it sees the edit: the
run's output and exit status are the edited ones."""

from __future__ import annotations

import re

from tests.test_gdbstub import debug, needs_gdb

GUEST = """bits 64
section .data
msg:    db "hello", 10
section .text
global _start
_start:
    mov edi, 3
    nop
    nop
edit_here:
    mov eax, 1              ; write(1, msg, 6)
    mov edx, 6
    lea rsi, [rel msg]
    push rdi
    mov edi, 1
    syscall
    pop rdi
after:
    mov eax, 60             ; exit(rdi)
    syscall
"""


def values(out: str) -> list[str]:
    return re.findall(r"^\$\d+ = (.*)$", out, re.M)


@needs_gdb
def test_an_edit_is_seen_again_after_going_back_and_forward(tmp_path):
    src = tmp_path / "edit.s"
    src.write_text(GUEST)
    out, status, stdout, err = debug(
        src, "break edit_here", "continue",
        "set $rdi = 7", "set {char}&msg = 'J'",        # the edit, at edit_here
        "reverse-stepi", "reverse-stepi", "p $rdi",      # before it: 3
        "continue", "p $rdi", "p/c *(char *)&msg",       # the breakpoint again: edited
        "break after", "continue", "p $rdi",             # after the write, rdi restored
        "reverse-continue", "p $rdi", "p/c *(char *)&msg",  # back onto the edit point
        "reverse-stepi", "p $rdi",                        # and one before it
        "delete", "continue")
    assert values(out) == ["3", "7", "74 'J'", "7", "7", "74 'J'", "3"], out
    assert stdout == b"Jello\n" and status == 7, (stdout, err)
