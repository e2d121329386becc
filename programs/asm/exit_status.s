; What wait4's status word says, decoded by hand with raw syscalls.
;
; Child 1 calls exit(42): the status is 42 << 8 = 0x2a00, so WIFEXITED (the low
; 7 bits are 0) and WEXITSTATUS = (status >> 8) & 0xff = 42.
; Child 2 is killed by SIGTERM (kill(getpid(), 15)): the status is 15, so
; WIFSIGNALED (low 7 bits neither 0 nor 0x7f) and WTERMSIG = status & 0x7f = 15.
bits 64

section .data
exited:     db "WIFEXITED, WEXITSTATUS = "
exited_num: db "??", 10
exited_len  equ $ - exited
killed:     db "WIFSIGNALED, WTERMSIG = "
killed_num: db "??", 10
killed_len  equ $ - killed

section .bss
status:     resd 1

section .text
global _start
_start:
    lea rbx, [rel first]    ; child 1's code
    call run_child
    lea rbx, [rel second]   ; child 2's code
    call run_child
    mov eax, 60             ; exit(0)
    xor edi, edi
    syscall

first:                      ; child 1: exit(42)
    mov eax, 60
    mov edi, 42
    syscall

second:                     ; child 2: kill(getpid(), SIGTERM)
    mov eax, 39             ; getpid()
    syscall
    mov edi, eax
    mov esi, 15             ; SIGTERM: its default action ends the process
    mov eax, 62             ; kill
    syscall
    mov eax, 60             ; not reached
    xor edi, edi
    syscall

; fork; the child jumps to rbx; the parent waits for it and prints its status.
run_child:
    mov eax, 57             ; fork()
    syscall
    test rax, rax
    jnz .parent
    jmp rbx                 ; the child runs its code and never comes back
.parent:
    mov rdi, rax            ; wait4(pid, &status, 0, NULL)
    lea rsi, [rel status]
    xor edx, edx
    xor r10d, r10d
    mov eax, 61
    syscall
    mov eax, [rel status]
    test eax, 0x7f          ; low 7 bits 0: it exited
    jnz .signal
    shr eax, 8              ; WEXITSTATUS
    and eax, 0xff
    lea rdi, [rel exited_num]
    call two_digits
    lea rsi, [rel exited]
    mov edx, exited_len
    jmp .print
.signal:
    and eax, 0x7f           ; WTERMSIG
    lea rdi, [rel killed_num]
    call two_digits
    lea rsi, [rel killed]
    mov edx, killed_len
.print:
    mov eax, 1              ; write(1, rsi, rdx)
    mov edi, 1
    syscall
    ret

; eax (0..99) as two decimal digits at [rdi]
two_digits:
    mov ecx, 10
    xor edx, edx
    div ecx                 ; eax = tens, edx = units
    add al, '0'
    add dl, '0'
    mov [rdi], al
    mov [rdi + 1], dl
    ret
