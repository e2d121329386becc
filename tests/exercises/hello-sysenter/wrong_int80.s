; A typical mistake: the old int 0x80 path, which works but is not this exercise's.
bits 32
section .data
hello:  db "Hello, "
bang:   db "!", 10
section .text
_start:
    mov edi, [esp + 8]
    mov eax, 4
    mov ebx, 1
    mov ecx, hello
    mov edx, 7
    int 0x80
    xor edx, edx
len:
    cmp byte [edi + edx], 0
    je print
    inc edx
    jmp len
print:
    mov eax, 4
    mov ebx, 1
    mov ecx, edi
    int 0x80
    mov eax, 4
    mov ebx, 1
    mov ecx, bang
    mov edx, 2
    int 0x80
    mov eax, 1
    xor ebx, ebx
    int 0x80
