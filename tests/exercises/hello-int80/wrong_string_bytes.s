; A typical mistake: `mov ecx, [msg]` loads the string's first 4 bytes, not its address.
bits 32
section .data
msg: db "Hello, world!", 10
section .text
_start:
    mov eax, 4
    mov ebx, 1
    mov ecx, [msg]
    mov edx, 14
    int 0x80
    mov eax, 1
    xor ebx, ebx
    int 0x80
