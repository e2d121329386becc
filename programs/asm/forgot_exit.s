; A program that forgets to exit. It prints its message and then... nothing tells the CPU
; to stop. There is no "end of program" in machine code: the CPU fetches whatever bytes
; follow the last instruction. Here they are the zeros that pad the code page, and
; 00 00 decodes as `add [rax], al`. rax still holds write's result (26, the byte count),
; so the CPU writes to address 26 (0x1a), where nothing is mapped: a page fault, which the
; kernel turns into SIGSEGV. No handler, so the process dies: status 139 = 128 + 11.
; C programs never see this: _start calls main, then exit() with main's return value.
bits 64

section .data
msg:    db "about to fall off the end", 10
len     equ $ - msg

section .text
global _start
_start:
    mov eax, 1                  ; write
    mov edi, 1
    lea rsi, [rip + msg]
    mov edx, len
    syscall                     ; rax <- 26
    ; missing here:  mov eax, 60 / xor edi, edi / syscall
