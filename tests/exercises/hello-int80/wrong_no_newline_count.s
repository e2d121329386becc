; A typical mistake: the length counts the letters but not the newline.
bits 32
section .data
msg:    db "Hello, world!", 10
section .text
_start:
    mov eax, 4
    mov ebx, 1
    mov ecx, msg
    mov edx, 13
    int 0x80
    mov eax, 1
    xor ebx, ebx
    int 0x80
