; Print "Hello, <value of NAME>!\n". At entry: [rsp] = argc, then argv[], NULL, envp[], NULL.
bits 64

section .data
hello:  db "Hello, "
bang:   db "!", 10

section .text
_start:
    ; your code here
