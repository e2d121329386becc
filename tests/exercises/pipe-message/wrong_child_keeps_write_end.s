; The child keeps its copy of the write end open: its last read never sees end of file.
bits 64
section .bss
fds:    resd 2
buf:    resb 256
section .text
_start:
    mov eax, 22             ; pipe(fds)
    lea rdi, [rel fds]
    syscall
    mov eax, 57             ; fork
    syscall
    test rax, rax
    jz child

    mov r12, rax            ; the parent: the child's pid
    mov eax, 3              ; close(fds[0]): the parent only writes
    mov edi, [rel fds]
    syscall
    mov rsi, [rsp + 16]     ; argv[1]
    xor edx, edx
.len:
    cmp byte [rsi + rdx], 0
    je .found
    inc edx
    jmp .len
.found:
    mov byte [rsi + rdx], 10 ; the NUL becomes a newline: the message is argv[1] + "\n"
    inc edx
    mov eax, 1              ; write(fds[1], argv[1], len + 1)
    mov edi, [rel fds + 4]
    syscall
    mov eax, 3              ; close(fds[1]): the child's read will see the end
    mov edi, [rel fds + 4]
    syscall
    mov rdi, r12            ; wait4(pid, NULL, 0, NULL)
    xor esi, esi
    xor edx, edx
    xor r10d, r10d
    mov eax, 61
    syscall
    mov eax, 60
    xor edi, edi
    syscall

child:
.more:
    xor eax, eax            ; read(fds[0], buf, 256)
    mov edi, [rel fds]
    lea rsi, [rel buf]
    mov edx, 256
    syscall
    test rax, rax
    jle .done               ; 0: end of file (every write end is closed)
    mov edx, eax            ; write(1, buf, n)
    mov eax, 1
    mov edi, 1
    lea rsi, [rel buf]
    syscall
    jmp .more
.done:
    mov eax, 60
    xor edi, edi
    syscall
