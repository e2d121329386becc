; `int 0x80` from 64-bit code uses the *i386* table and only the low 32 bits of each
; register. A buffer in .data (below 4 GiB) works; the same bytes copied to the stack,
; whose address needs 47 bits, come out as EFAULT: the pointer was cut to 32 bits.
bits 64

section .data
msg:    db "int 0x80 from 64-bit code, low buffer: works", 10
len     equ $ - msg

section .text
global _start
_start:
    ; 1. write(1, msg, len) with i386 numbers: eax=4, ebx ecx edx.
    mov eax, 4
    mov ebx, 1
    lea rcx, [rip + msg]    ; 0x402000: fits in 32 bits
    mov edx, len
    int 0x80

    ; 2. the same message from a stack buffer: rsp is 0x7ffc........
    sub rsp, 64
    mov rdi, rsp
    lea rsi, [rip + msg]
    mov ecx, len
    rep movsb
    mov eax, 4
    mov ebx, 1
    mov rcx, rsp            ; only ecx reaches the kernel: the low half of the address
    mov edx, len
    int 0x80                ; -> -14 (EFAULT) in rax

    ; 3. exit with the low byte of the second result's errno: 14.
    neg eax
    mov ebx, eax
    mov eax, 1              ; i386 exit
    int 0x80
