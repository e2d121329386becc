bits 64
section .data
hello:  db "Hello, "
bang:   db "!", 10
section .text
_start:
    mov rax, [rsp]              ; argc
    lea rbx, [rsp + 8 + rax*8 + 8]  ; envp[0]
next:
    mov rsi, [rbx]
    test rsi, rsi
    jz missing
    add rbx, 8
    cmp dword [rsi], 0x454d414e ; "NAME"
    jne next
    cmp byte [rsi + 4], '='
    jne next
    add rsi, 5                  ; the value
    mov r12, rsi
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + hello]
    mov edx, 7
    syscall
    xor edx, edx
len:
    cmp byte [r12 + rdx], 0
    je print
    inc rdx
    jmp len
print:
    mov eax, 1
    mov edi, 1
    mov rsi, r12
    syscall
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + bang]
    mov edx, 2
    syscall
    mov eax, 60
    xor edi, edi
    syscall
missing:
    mov eax, 60
    mov edi, 1
    syscall
