; A typical mistake: one read, as if it always returned everything.
bits 64
section .bss
buf:    resb 4096
section .text
_start:
    xor eax, eax
    xor edi, edi
    lea rsi, [rip + buf]
    mov edx, 4096
    syscall
    mov rdx, rax
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + buf]
    syscall
    mov eax, 60
    xor edi, edi
    syscall
