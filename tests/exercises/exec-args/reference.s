bits 64
section .data
path:   db "/usr/lib/syscall-lab/bin/echo_args.glibc-x86_64", 0
name:   db "echo_args", 0
hello:  db "hello", 0
args:   dq name, hello, 0, 0    ; argv[2] is filled in at run time; then the NULL
section .text
_start:
    mov rax, [rsp + 16]         ; our argv[1]
    mov [rel args + 16], rax
    mov rcx, [rsp]              ; envp = rsp + 8 * (argc + 2)
    lea rdx, [rsp + 8 * rcx + 16]
    lea rdi, [rel path]
    lea rsi, [rel args]
    mov eax, 59                 ; execve
    syscall
    neg eax                     ; only if it failed: exit with the errno
    mov edi, eax
    mov eax, 60
    syscall
