; A typical mistake: the familiar `syscall`, which this exercise is about avoiding.
bits 64
section .data
newline: db 10
section .text
_start:
    mov rsi, [rsp + 16]
    xor edx, edx
count:
    cmp byte [rsi + rdx], 0
    je counted
    inc edx
    jmp count
counted:
    mov eax, 1
    mov edi, 1
    syscall
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + newline]
    mov edx, 1
    syscall
    mov eax, 60
    xor edi, edi
    syscall
