bits 64
section .data
newline: db 10
section .text
_start:
    mov rsi, [rsp + 16]     ; argv[1]
    xor edx, edx
count:
    cmp byte [rsi + rdx], 0
    je counted
    inc rdx
    jmp count
counted:
    mov eax, 1              ; write(1, argv[1], len)
    mov edi, 1
    syscall
    mov eax, 1              ; write(1, "\n", 1)
    mov edi, 1
    lea rsi, [rip + newline]
    mov edx, 1
    syscall
    mov eax, 60
    xor edi, edi
    syscall
