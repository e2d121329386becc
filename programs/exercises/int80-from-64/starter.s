; Print argv[1] with int 0x80 from 64-bit code: i386 numbers, 32-bit pointers.
bits 64

section .bss
copy:   resb 256

section .text
_start:
    ; your code here
