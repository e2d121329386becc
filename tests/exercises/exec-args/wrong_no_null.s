; The argv array has no NULL at its end: execve reads on into the path's bytes.
bits 64
section .data
args:   dq name, hello
word:   dq 0
path:   db "/usr/lib/syscall-lab/bin/echo_args.glibc-x86_64", 0
name:   db "echo_args", 0
hello:  db "hello", 0
section .text
_start:
    mov rax, [rsp + 16]
    mov [rel word], rax
    lea rdi, [rel path]
    lea rsi, [rel args]
    xor edx, edx
    mov eax, 59
    syscall
    neg eax
    mov edi, eax
    mov eax, 60
    syscall
