; A typical mistake: the usage message on stdout.
bits 64
section .data
usage:  db "usage: shout WORD", 10
usage_len equ $ - usage
section .bss
buf:    resb 256
section .text
_start:
    cmp qword [rsp], 2          ; argc
    jne no_word
    mov rsi, [rsp + 16]         ; argv[1]
    lea rdi, [rip + buf]
    xor edx, edx
upcase:
    mov al, [rsi + rdx]
    test al, al
    jz done
    sub al, 32                  ; 'a' -> 'A'
    mov [rdi + rdx], al
    inc edx
    jmp upcase
done:
    mov byte [rdi + rdx], 10
    inc edx
    mov eax, 1                  ; write(1, buf, len + 1)
    mov rsi, rdi
    mov edi, 1
    syscall
    mov eax, 60
    xor edi, edi
    syscall
no_word:
    mov eax, 1                  ; write(1, usage, usage_len): the usage on stdout
    mov edi, 1
    lea rsi, [rip + usage]
    mov edx, usage_len
    syscall
    mov eax, 60
    mov edi, 2
    syscall
