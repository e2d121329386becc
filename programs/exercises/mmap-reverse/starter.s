; Print argv[1] reversed and a newline, from a buffer mmap gave you.
; mmap: rax = 9, rdi = 0, rsi = length, rdx = prot, r10 = flags, r8 = -1, r9 = 0.
bits 64

section .text
_start:
    ; your code here
