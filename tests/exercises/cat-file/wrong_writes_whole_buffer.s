; A typical mistake: writing the whole buffer instead of the count read returned.
bits 64
section .bss
buf:    resb 256
section .text
_start:
    mov rdi, [rsp + 16]
    mov eax, 2
    xor esi, esi
    syscall
    mov r12, rax
again:
    xor eax, eax
    mov rdi, r12
    lea rsi, [rip + buf]
    mov edx, 256
    syscall
    test rax, rax
    jle done
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + buf]
    mov edx, 256
    syscall
    jmp again
done:
    mov eax, 3
    mov rdi, r12
    syscall
    mov eax, 60
    xor edi, edi
    syscall
