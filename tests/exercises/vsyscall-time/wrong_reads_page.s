; A typical mistake: reading the vsyscall page instead of calling it (before 3.1 the
; time variables lived in the page; today it is execute-only).
bits 64
section .bss
digits: resb 32
section .text
_start:
    mov rax, 0xffffffffff600400     ; reading the page, as if the time were stored there
    mov rax, [rax]
    lea rsi, [rip + digits + 31]
    mov byte [rsi], 10
    mov ecx, 10
to_decimal:
    xor edx, edx
    div rcx
    add dl, '0'
    dec rsi
    mov [rsi], dl
    test rax, rax
    jnz to_decimal
    lea rdx, [rip + digits + 32]
    sub rdx, rsi
    mov eax, 1
    mov edi, 1
    syscall
    mov eax, 60
    xor edi, edi
    syscall
