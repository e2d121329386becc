; A typical mistake: handing int 0x80 the stack address of argv[1]; ecx keeps its low half.
bits 64
section .data
newline: db 10
section .text
_start:
    mov rcx, [rsp + 16]
    xor edx, edx
count:
    cmp byte [rcx + rdx], 0
    je counted
    inc edx
    jmp count
counted:
    mov eax, 4
    mov ebx, 1
    int 0x80
    mov eax, 4
    mov ebx, 1
    lea rcx, [rip + newline]
    mov edx, 1
    int 0x80
    mov eax, 1
    xor ebx, ebx
    int 0x80
