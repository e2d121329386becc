; A typical mistake: the raw clock_gettime syscall, which crosses into the kernel.
bits 64
section .bss
ts:     resq 2
digits: resb 32
section .text
_start:
    mov eax, 228                    ; clock_gettime(CLOCK_REALTIME, &ts)
    xor edi, edi
    lea rsi, [rip + ts]
    syscall
    mov rax, [rip + ts]
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
