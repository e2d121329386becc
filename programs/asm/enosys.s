; An unknown syscall number. The kernel checks rax against the size of sys_call_table
; (NR_syscalls); a number past the end, or a hole in the table, gets -ENOSYS (-38) in rax
; and nothing else happens. strace prints such a call as syscall_0x1f4(...).
; The program then exits with -rax, so the shell's $? shows 38.
bits 64

section .text
global _start
_start:
    mov eax, 500                ; no syscall has this number (the table ends in the 460s)
    syscall                     ; rax <- -38 (ENOSYS: "Function not implemented")
    mov rdi, rax
    neg rdi                     ; 38
    mov eax, 60                 ; exit(38)
    syscall
