; fork and wait with raw syscalls: one process becomes two, and the parent
; waits for the child and reads its exit status.
;
; fork (57) returns twice, with the same code running in both processes:
; in the parent rax is the child's pid, in the child rax is 0. The child prints
; and exits with 7; the parent sleeps in wait4 (61) until then, and takes the
; exit code from the status word: WEXITSTATUS is (status >> 8) & 0xff.
bits 64

section .data
child_msg:  db "child: fork returned 0", 10
child_len   equ $ - child_msg
parent_msg: db "parent: fork returned the child's pid; wait4: exit code "
code:       db "?", 10
parent_len  equ $ - parent_msg

section .bss
status:     resd 1                  ; wait4 writes the child's status here

section .text
global _start
_start:
    mov eax, 57             ; fork()
    syscall                 ; returns twice: here in the parent, and in the child
    test rax, rax
    jz child                ; rax = 0: this is the child
    js failed               ; rax < 0: -errno, no child was made

parent:                     ; rax = the child's pid
    mov rdi, rax            ; wait4(pid, &status, 0, NULL)
    lea rsi, [rel status]
    xor edx, edx
    xor r10d, r10d
    mov eax, 61
    syscall                 ; sleeps until the child has exited
    mov eax, [rel status]
    shr eax, 8              ; WEXITSTATUS: bits 8..15
    and eax, 0xff
    add al, '0'             ; one digit is enough for 7
    mov [rel code], al
    mov eax, 1              ; write(1, parent_msg, parent_len)
    mov edi, 1
    lea rsi, [rel parent_msg]
    mov edx, parent_len
    syscall
    mov eax, 60             ; exit(0)
    xor edi, edi
    syscall

child:
    mov eax, 1              ; write(1, child_msg, child_len)
    mov edi, 1
    lea rsi, [rel child_msg]
    mov edx, child_len
    syscall
    mov eax, 60             ; exit(7): the parent's wait4 collects the 7
    mov edi, 7
    syscall

failed:
    neg eax                 ; exit with the errno
    mov edi, eax
    mov eax, 60
    syscall
