; Exit with status argc. At entry, [rsp] holds argc.
bits 64

section .text
_start:
    ; your code here
