; fpregs64.asm for i386 (int 0x80): the same values, stop and exit status.
bits 32

section .data
two_and_half:   dq 2.5
csr:            dd 0x7f81           ; RC = toward zero, every exception masked, IE set

section .text
global _start, loaded
_start:
    fninit
    fld1
    fldpi
    movsd xmm0, [two_and_half]
    ldmxcsr [csr]
    pxor xmm1, xmm1
loaded:
    movd ebx, xmm1
    mov eax, 1                      ; exit
    int 0x80
