bits 64
section .bss
buf:    resb 64
section .text
_start:
again:
    xor eax, eax                ; read(0, buf, 64)
    xor edi, edi
    lea rsi, [rip + buf]
    mov edx, 64
    syscall
    test rax, rax
    jle done
    mov rdx, rax                ; write(1, buf, n)
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + buf]
    syscall
    jmp again
done:
    mov eax, 60
    xor edi, edi
    syscall
