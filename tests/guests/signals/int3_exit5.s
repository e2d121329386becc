; The guest's own breakpoint instruction, then exit(5): under gdb, SIGTRAP stops it
; after the int3 and `continue` goes on (tests/test_gdbstub_signals.py).
bits 64
section .text
global _start
_start:
    int3
    mov eax, 60
    mov edi, 5
    syscall
