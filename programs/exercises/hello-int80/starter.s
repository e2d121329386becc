; Hello, world with int 0x80: eax = the i386 syscall number, ebx ecx edx the arguments.
bits 32

section .data
msg:    db "Hello, world!", 10

section .text
_start:
    ; write(1, msg, 14), then exit(0)
