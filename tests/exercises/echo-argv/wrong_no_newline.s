; A typical mistake: the word, but no newline after it.
bits 64
section .text
_start:
    mov rsi, [rsp + 16]
    xor edx, edx
count:
    cmp byte [rsi + rdx], 0
    je counted
    inc rdx
    jmp count
counted:
    mov eax, 1
    mov edi, 1
    syscall
    mov eax, 60
    xor edi, edi
    syscall
