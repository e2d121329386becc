; A typical mistake: rax=1 is exit in the i386 table (int 0x80), but write in x86-64's.
bits 64
section .text
_start:
    mov eax, 1
    mov edi, 42
    syscall
