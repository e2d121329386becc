; A typical mistake: a wrong entry offset (time is at +0x400, not +0x40).
bits 64
section .bss
digits: resb 32
section .text
_start:
    xor edi, edi                    ; time(NULL)
    mov rax, 0xffffffffff600040
    call rax                        ; faults, emulated by the kernel
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
