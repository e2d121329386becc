; Hello, world the i386 way: `int 0x80`, number in eax, arguments in ebx ecx edx.
; The numbers come from the i386 table: write is 4 and exit is 1 (not 1 and 60).
bits 32

section .data
msg:    db "Hello from int 0x80!", 10
len     equ $ - msg

section .text
global _start
_start:
    mov eax, 4              ; write = ia32_sys_call_table[4]
    mov ebx, 1              ; fd 1: stdout
    mov ecx, msg            ; the buffer
    mov edx, len            ; its length
    int 0x80                ; through the IDT gate for vector 0x80
    mov eax, 1              ; exit
    xor ebx, ebx            ; status 0
    int 0x80
