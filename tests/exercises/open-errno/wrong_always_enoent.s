; A typical mistake: every failure reported as ENOENT.
bits 64
section .data
ok:      db "ok", 10
enoent:  db "ENOENT", 10
section .text
_start:
    mov rdi, [rsp + 16]
    mov eax, 2
    mov esi, 1
    syscall
    test rax, rax
    js failed
    lea rsi, [rip + ok]
    mov edx, 3
    xor r12d, r12d
    jmp print
failed:
    mov r12d, 1
    lea rsi, [rip + enoent]
    mov edx, 7
print:
    mov eax, 1
    mov edi, 1
    syscall
    mov eax, 60
    mov edi, r12d
    syscall
