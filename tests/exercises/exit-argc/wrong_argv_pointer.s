; A typical mistake: [rsp + 8] is argv[0], a pointer, not argc.
bits 64
section .text
_start:
    mov rdi, [rsp + 8]
    mov eax, 60
    syscall
