bits 64
section .bss
buf:    resb 256
section .text
_start:
    mov rdi, [rsp + 16]         ; argv[1]
    mov eax, 2                  ; open(path, O_RDONLY)
    xor esi, esi
    syscall
    test rax, rax
    js fail
    mov r12, rax                ; the fd
again:
    xor eax, eax                ; read(fd, buf, 256)
    mov rdi, r12
    lea rsi, [rip + buf]
    mov edx, 256
    syscall
    test rax, rax
    jle done                    ; 0: the end of the file
    mov rdx, rax                ; write(1, buf, n)
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + buf]
    syscall
    jmp again
done:
    mov eax, 3                  ; close(fd)
    mov rdi, r12
    syscall
    mov eax, 60
    xor edi, edi
    syscall
fail:
    mov eax, 60
    mov edi, 1
    syscall
