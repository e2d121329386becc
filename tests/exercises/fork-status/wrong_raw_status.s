; The status word used as it is: (argc << 8) + 1 has low 8 bits 1.
bits 64
section .bss
status: resd 1
section .text
_start:
    mov eax, 57
    syscall
    test rax, rax
    jnz parent
    mov rdi, [rsp]
    mov eax, 60
    syscall
parent:
    mov rdi, rax
    lea rsi, [rel status]
    xor edx, edx
    xor r10d, r10d
    mov eax, 61
    syscall
    mov edi, [rel status]
    inc edi
    mov eax, 60
    syscall
