; The benchmark's pipe loop: the parent writes argv[1] MiB (default 64) through a pipe in
; 64 KiB writes; the child reads until end of file and exits 0 if it got every byte.
bits 64
section .bss
fds: resd 2
status: resd 1
buf: resb 65536
section .text
_start:
    mov rbx, 64
    mov rsi, [rsp]
    cmp rsi, 2
    jb start
    mov rsi, [rsp + 16]
    xor ebx, ebx
digits:
    movzx eax, byte [rsi]
    test al, al
    jz start
    sub eax, '0'
    imul rbx, rbx, 10
    add rbx, rax
    inc rsi
    jmp digits
start:
    shl rbx, 4                      ; 64 KiB writes per MiB
    mov eax, 22                     ; pipe(fds)
    lea rdi, [rel fds]
    syscall
    mov eax, 57                     ; fork
    syscall
    test rax, rax
    jz child
    mov r12, rax
    mov eax, 3                      ; close(read end)
    mov edi, [rel fds]
    syscall
write_loop:
    mov eax, 1                      ; write(fd, buf, 65536)
    mov edi, [rel fds + 4]
    lea rsi, [rel buf]
    mov edx, 65536
    syscall
    cmp rax, 65536
    jne fail
    dec rbx
    jnz write_loop
    mov eax, 3                      ; close(write end): the child sees end of file
    mov edi, [rel fds + 4]
    syscall
    mov rdi, r12                    ; wait4(child, &status, 0, NULL)
    mov eax, 61
    lea rsi, [rel status]
    xor edx, edx
    xor r10d, r10d
    syscall
    mov edi, [rel status]
    shr edi, 8
    mov eax, 231
    syscall
child:
    mov eax, 3                      ; close(write end)
    mov edi, [rel fds + 4]
    syscall
    shl rbx, 16                     ; the bytes to expect
    xor r13d, r13d
read_loop:
    xor eax, eax                    ; read(fd, buf, 65536)
    mov edi, [rel fds]
    lea rsi, [rel buf]
    mov edx, 65536
    syscall
    test rax, rax
    jz eof
    js fail
    add r13, rax
    jmp read_loop
eof:
    xor edi, edi
    cmp r13, rbx
    je out
    mov edi, 1
out:
    mov eax, 231
    syscall
fail:
    mov eax, 231
    mov edi, 2
    syscall
