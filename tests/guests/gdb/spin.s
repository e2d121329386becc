; Says so, then loops forever: what --max-insns and --timeout must end under gdb.
bits 64

section .data
msg:    db "spinning", 10
len     equ $ - msg

section .text
global _start
_start:
    mov eax, 1              ; write(1, msg, len)
    mov edi, 1
    lea rsi, [rel msg]
    mov edx, len
    syscall
spin:
    inc rbx                 ; (something to look at from gdb)
    jmp spin
