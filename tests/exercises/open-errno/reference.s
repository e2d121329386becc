bits 64
section .data
ok:      db "ok", 10
enoent:  db "ENOENT", 10
enotdir: db "ENOTDIR", 10
eisdir:  db "EISDIR", 10
erofs:   db "EROFS", 10
eacces:  db "EACCES", 10
other:   db "EOTHER", 10
section .text
_start:
    mov rdi, [rsp + 16]
    mov eax, 2                  ; open(path, O_WRONLY)
    mov esi, 1
    syscall
    test rax, rax
    js failed
    lea rsi, [rip + ok]
    mov edx, 3
    xor r12d, r12d
    jmp print
failed:
    neg rax                     ; -errno -> errno
    mov r12d, 1
    lea rsi, [rip + enoent]
    mov edx, 7
    cmp eax, 2
    je print
    lea rsi, [rip + enotdir]
    mov edx, 8
    cmp eax, 20
    je print
    lea rsi, [rip + eisdir]
    mov edx, 7
    cmp eax, 21
    je print
    lea rsi, [rip + erofs]
    mov edx, 6
    cmp eax, 30
    je print
    lea rsi, [rip + eacces]
    mov edx, 7
    cmp eax, 13
    je print
    lea rsi, [rip + other]
    mov edx, 7
print:
    mov eax, 1
    mov edi, 1
    syscall
    mov eax, 60
    mov edi, r12d
    syscall
