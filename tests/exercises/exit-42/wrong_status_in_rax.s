; A typical mistake: the status put in rax next to the number; rdi stays 0.
bits 64
section .text
_start:
    mov eax, 60
    mov esi, 42
    syscall
