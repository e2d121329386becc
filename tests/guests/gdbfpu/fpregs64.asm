; x87 and SSE registers through gdb, without libc: loads known values (1 and pi on the
; x87 stack, 2.5 in xmm0's low double, an MXCSR with round-toward-zero and a sticky flag),
; stops at `loaded` (a breakpoint there), then exits with xmm1's low dword: 0 unless a
; debugger wrote to xmm1 at the stop.
bits 64
default rel

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
    movd edi, xmm1
    mov eax, 60                     ; exit
    syscall
