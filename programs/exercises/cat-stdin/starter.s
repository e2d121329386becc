; Copy stdin to stdout until read returns 0.
bits 64

section .bss
buf:    resb 64

section .text
_start:
    ; your code here
