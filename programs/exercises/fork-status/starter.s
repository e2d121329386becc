; fork; the child exits with argc; the parent waits for it with wait4 and exits
; with the child's exit code + 1.
bits 64

section .bss
status: resd 1              ; wait4 stores the child's status word here

section .text
_start:
    ; your code here
