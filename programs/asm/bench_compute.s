; The benchmark's compute loop: no syscalls inside, so it measures raw emulation speed.
; The iteration count comes from argv[1] when given (default 200,000,000).
bits 64
section .text
_start:
    mov rcx, 200000000
    mov rsi, [rsp]          ; argc
    cmp rsi, 2
    jb run
    mov rsi, [rsp + 16]     ; argv[1]
    xor ecx, ecx
digits:
    movzx eax, byte [rsi]
    test al, al
    jz run
    sub eax, '0'
    imul rcx, rcx, 10
    add rcx, rax
    inc rsi
    jmp digits
run:
    xor eax, eax
    mov edx, 0x9e3779b9
compute:
    add rax, rcx
    xor rax, rdx
    rol rax, 7
    dec rcx
    jnz compute
    and eax, 0x7f           ; exit with a value that depends on the whole loop
    mov edi, eax
    mov eax, 60
    syscall
