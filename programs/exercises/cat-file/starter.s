; cat argv[1]: open, then read and write until read returns 0, then close and exit.
bits 64

section .bss
buf:    resb 256

section .text
_start:
    ; your code here
