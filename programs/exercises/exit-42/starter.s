; Exit with status 42.
; rax: the syscall number (exit is 60 on x86-64); rdi: the status; then `syscall`.
bits 64

section .text
global _start
_start:
    ; your code here
