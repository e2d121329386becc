; pipe, fork; the parent writes argv[1] and a newline into the pipe, the child
; reads it and prints it; the parent waits for the child.
bits 64

section .bss
fds:    resd 2              ; pipe() stores the read end, then the write end (4 bytes each)
buf:    resb 256            ; for the child's reads

section .text
_start:
    ; your code here
