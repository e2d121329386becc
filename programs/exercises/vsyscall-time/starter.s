; Print time(NULL) from the vsyscall page: call 0xffffffffff600400 with rdi = 0.
bits 64

section .bss
digits: resb 32

section .text
_start:
    ; your code here
