; A typical mistake: a read-only mapping, then writing into it.
bits 64
section .text
_start:
    mov r12, [rsp + 16]             ; argv[1]
    mov eax, 9                      ; mmap(NULL, 4096, PROT_READ|PROT_WRITE,
    xor edi, edi                    ;      MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
    mov esi, 4096
    mov edx, 1                      ; PROT_READ only
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rbx, rax                    ; the buffer
    xor ecx, ecx                    ; the length
count:
    cmp byte [r12 + rcx], 0
    je counted
    inc rcx
    jmp count
counted:
    xor edx, edx                    ; buf[i] = word[len - 1 - i]
copy:
    cmp rdx, rcx
    je copied
    mov rax, rcx
    sub rax, rdx
    mov al, [r12 + rax - 1]
    mov [rbx + rdx], al
    inc rdx
    jmp copy
copied:
    mov byte [rbx + rdx], 10
    inc rdx
    mov eax, 1
    mov edi, 1
    mov rsi, rbx
    syscall
    mov eax, 60
    xor edi, edi
    syscall
