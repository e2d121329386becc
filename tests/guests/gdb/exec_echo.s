; The first process replaces its program: execve of the bundled echo_args (a C program),
; same pid. Under gdb the stop reply says exec:PATH and gdb loads echo_args's symbols.
bits 64

section .data
path:   db "/usr/lib/syscall-lab/bin/echo_args.glibc-x86_64", 0
name:   db "echo_args", 0
w1:     db "after", 0
w2:     db "exec", 0
args:   dq name, w1, w2, 0      ; argv, ended by a NULL pointer

section .text
global _start
_start:
    lea rdi, [rel path]         ; execve(path, args, envp)
    lea rsi, [rel args]
    mov rcx, [rsp]              ; envp is after argv's NULL: rsp + 8 * (argc + 2)
    lea rdx, [rsp + 8 * rcx + 16]
    mov eax, 59
    syscall                     ; on success, never returns
    neg eax                     ; it failed: exit with the errno
    mov edi, eax
    mov eax, 60
    syscall
