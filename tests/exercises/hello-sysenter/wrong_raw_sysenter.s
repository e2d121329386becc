; A typical mistake: executing sysenter directly instead of calling __kernel_vsyscall.
bits 32
section .data
hello:  db "Hello, "
bang:   db "!", 10
section .text
_start:
    mov eax, 4
    mov ebx, 1
    mov ecx, hello
    mov edx, 7
    mov ebp, esp
    sysenter
    mov eax, 1
    xor ebx, ebx
    mov ebp, esp
    sysenter
