; fork, exec, wait with raw syscalls: how a shell runs a command.
;
; The parent forks (57). The child replaces its program with echo_args through
; execve (59), keeping its pid; the parent sleeps in wait4 (61) until that pid
; has exited, then exits with the same code.
bits 64

section .data
path:   db "/usr/lib/syscall-lab/bin/echo_args.glibc-x86_64", 0
name:   db "echo_args", 0
w1:     db "hello", 0
w2:     db "from", 0
w3:     db "the", 0
w4:     db "child", 0
args:   dq name, w1, w2, w3, w4, 0  ; argv for echo_args, ended by a NULL pointer

section .bss
status: resd 1                      ; wait4 writes the child's status here

section .text
global _start
_start:
    mov eax, 57             ; fork()
    syscall                 ; returns twice
    test rax, rax
    jz child                ; rax = 0: the child

parent:                     ; rax = the child's pid
    mov rdi, rax            ; wait4(pid, &status, 0, NULL)
    lea rsi, [rel status]
    xor edx, edx
    xor r10d, r10d
    mov eax, 61
    syscall                 ; sleeps while the child runs
waited:
    mov edi, [rel status]
    shr edi, 8              ; WEXITSTATUS: the child's exit code
    and edi, 0xff
    mov eax, 60             ; exit with it
    syscall

child:
    lea rdi, [rel path]     ; execve(path, args, envp)
    lea rsi, [rel args]
    mov rcx, [rsp]          ; envp is after argv's NULL: rsp + 8 * (argc + 2)
    lea rdx, [rsp + 8 * rcx + 16]
    mov eax, 59
    syscall                 ; on success, never returns: echo_args runs now
    neg eax                 ; it failed: exit with the errno
    mov edi, eax
    mov eax, 60
    syscall
