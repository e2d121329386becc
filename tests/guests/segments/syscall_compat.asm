; `syscall` in compatibility-mode code of a 64-bit process: #UD on an Intel CPU, so
; SIGILL at the instruction (an AMD CPU enters the kernel's compat path instead).
bits 64
section .text
global _start
_start:
    lea rsp, [rel stack_top]
    push 0x23
    lea eax, [rel c32]
    push rax
    retfq
bits 32
c32:
    mov eax, 20
    syscall
    mov ebx, eax
    mov eax, 1
    int 0x80
section .bss
    resb 4096
stack_top:
