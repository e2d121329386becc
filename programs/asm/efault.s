; A value where a pointer belongs: write(1, 42, 5). The kernel cannot trust any address
; a program hands it, so it copies from user memory with instructions whose faults it
; catches (copy_from_user and its exception table). Address 42 is not mapped: instead of
; crashing, the syscall returns -EFAULT (-14) in rax. The same mistake made by the
; program itself (mov al, [42]) would be a SIGSEGV. Exits with -rax: status 14.
bits 64

section .text
global _start
_start:
    mov eax, 1                  ; write
    mov edi, 1                  ; fd 1
    mov esi, 42                 ; meant: a pointer to the bytes; given: the number 42
    mov edx, 5
    syscall                     ; rax <- -14 (EFAULT: "Bad address")
    mov rdi, rax
    neg rdi                     ; 14
    mov eax, 60
    syscall
