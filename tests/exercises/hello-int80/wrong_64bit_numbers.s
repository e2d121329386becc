; A typical mistake: the x86-64 numbers (write = 1, exit = 60) through int 0x80.
bits 32
section .data
msg:    db "Hello, world!", 10
len     equ $ - msg
section .text
_start:
    mov eax, 1
    mov ebx, 1
    mov ecx, msg
    mov edx, len
    int 0x80
    mov eax, 60
    xor ebx, ebx
    int 0x80
