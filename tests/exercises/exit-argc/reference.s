bits 64
section .text
_start:
    mov rdi, [rsp]          ; argc
    mov eax, 60             ; exit
    syscall
