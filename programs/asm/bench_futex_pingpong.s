; The benchmark's context-switch loop: two threads hand a token back and forth through a
; futex word, argv[1] round trips (default 10000); each round trip is two switches.
bits 64
section .bss
token: resd 1               ; 0: the main thread's turn, 1: the other thread's
rounds: resq 1
        resb 65536
stack_top:
section .text
_start:
    mov rbx, 10000
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
    mov [rel rounds], rbx
    ; clone(CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, stack)
    mov eax, 56
    mov edi, 0x50f00
    lea rsi, [rel stack_top]
    xor edx, edx
    xor r10d, r10d
    xor r8d, r8d
    syscall
    test rax, rax
    jz thread
    js fail
main_loop:
    mov dword [rel token], 1        ; the other thread's turn
    mov eax, 202                    ; futex(&token, FUTEX_WAKE_PRIVATE, 1)
    lea rdi, [rel token]
    mov esi, 129
    mov edx, 1
    syscall
main_wait:
    cmp dword [rel token], 0
    je main_next
    mov eax, 202                    ; futex(&token, FUTEX_WAIT_PRIVATE, 1, NULL)
    lea rdi, [rel token]
    mov esi, 128
    mov edx, 1
    xor r10d, r10d
    syscall
    jmp main_wait
main_next:
    dec rbx
    jnz main_loop
    mov eax, 231
    xor edi, edi
    syscall
thread:
    mov rbx, [rel rounds]
thread_wait:
    cmp dword [rel token], 1
    je thread_turn
    mov eax, 202                    ; futex(&token, FUTEX_WAIT_PRIVATE, 0, NULL)
    lea rdi, [rel token]
    mov esi, 128
    xor edx, edx
    xor r10d, r10d
    syscall
    jmp thread_wait
thread_turn:
    mov dword [rel token], 0
    mov eax, 202                    ; futex(&token, FUTEX_WAKE_PRIVATE, 1)
    lea rdi, [rel token]
    mov esi, 129
    mov edx, 1
    syscall
    dec rbx
    jnz thread_wait
    mov eax, 60                     ; exit(0): this thread only
    xor edi, edi
    syscall
fail:
    mov eax, 231
    mov edi, 1
    syscall
