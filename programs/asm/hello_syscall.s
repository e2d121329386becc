; Hello, world through the x86-64 `syscall` instruction.
; rax holds the syscall number (an index into sys_call_table), rdi rsi rdx the arguments.
bits 64

section .data
msg:    db "Hello from syscall!", 10
len     equ $ - msg

section .text
global _start
_start:
    mov eax, 1              ; write = sys_call_table[1]
    mov edi, 1              ; fd 1: stdout
    lea rsi, [rip + msg]    ; the buffer
    mov edx, len            ; its length
    syscall                 ; rcx <- next rip, r11 <- rflags, CPL 3 -> 0
    mov eax, 60             ; exit
    xor edi, edi            ; status 0
    syscall
