; Print argv[1] in capitals; without an argument, the usage on stderr and status 2.
bits 64

section .data
usage:  db "usage: shout WORD", 10

section .bss
buf:    resb 256

section .text
_start:
    ; your code here
