bits 32
section .data
msg:    db "Hello, world!", 10
len     equ $ - msg
section .text
_start:
    mov eax, 4              ; write in the i386 table
    mov ebx, 1
    mov ecx, msg
    mov edx, len
    int 0x80
    mov eax, 1              ; exit
    xor ebx, ebx
    int 0x80
