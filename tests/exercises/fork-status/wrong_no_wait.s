; The parent computes argc + 1 itself and never waits for the child.
bits 64
section .text
_start:
    mov eax, 57
    syscall
    mov rdi, [rsp]
    test rax, rax
    jz child
    inc rdi
child:
    mov eax, 60
    syscall
