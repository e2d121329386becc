; The benchmark's fork-memory program: map argv[1] MiB (default 64), write every page, then
; fork 100 children that each wait for ever; the parent exits 0 once all are made (the run
; ends there). Run it with --memory-limit above 101 times the mapping.
bits 64
section .bss
word: resd 1
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
    mov rsi, rbx
    shl rsi, 20
    mov eax, 9                      ; mmap(NULL, size, RW, PRIVATE|ANONYMOUS, -1, 0)
    xor edi, edi
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rcx, rbx
    shl rcx, 8                      ; pages
touch:
    mov byte [rax], 1
    add rax, 4096
    loop touch
    mov r12d, 100
fork_loop:
    mov eax, 57
    syscall
    test rax, rax
    jz child
    js fail
    dec r12d
    jnz fork_loop
    mov eax, 231
    xor edi, edi
    syscall
child:
    mov eax, 202                    ; futex(&word, FUTEX_WAIT, 0, NULL): for ever
    lea rdi, [rel word]
    xor esi, esi
    xor edx, edx
    xor r10d, r10d
    syscall
    jmp child
fail:
    mov eax, 231
    mov edi, 1
    syscall
