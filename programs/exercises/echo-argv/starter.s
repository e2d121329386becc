; Print argv[1] and a newline. At entry: [rsp] = argc, [rsp + 8] = argv[0], [rsp + 16] = argv[1].
bits 64

section .data
newline: db 10

section .text
_start:
    ; your code here
