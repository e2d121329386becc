; A typical mistake: setting the registers but never making the call; the CPU runs on.
bits 64
section .text
_start:
    mov eax, 60
    mov edi, 42
