; What wait4's status word says, decoded by hand: the i386 way, through int 0x80
; (fork 2, write 4, exit 1, getpid 20, kill 37, wait4 114).
;
; Child 1 calls exit(42): the status is 42 << 8 = 0x2a00, so WIFEXITED (the low
; 7 bits are 0) and WEXITSTATUS = (status >> 8) & 0xff = 42.
; Child 2 is killed by SIGTERM (kill(getpid(), 15)): the status is 15, so
; WIFSIGNALED (low 7 bits neither 0 nor 0x7f) and WTERMSIG = status & 0x7f = 15.
bits 32

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
    mov esi, first          ; child 1's code
    call run_child
    mov esi, second         ; child 2's code
    call run_child
    mov eax, 1              ; exit(0)
    xor ebx, ebx
    int 0x80

first:                      ; child 1: exit(42)
    mov eax, 1
    mov ebx, 42
    int 0x80

second:                     ; child 2: kill(getpid(), SIGTERM)
    mov eax, 20             ; getpid()
    int 0x80
    mov ebx, eax
    mov ecx, 15             ; SIGTERM: its default action ends the process
    mov eax, 37             ; kill
    int 0x80
    mov eax, 1              ; not reached
    xor ebx, ebx
    int 0x80

; fork; the child jumps to esi; the parent waits for it and prints its status.
run_child:
    mov eax, 2              ; fork()
    int 0x80
    test eax, eax
    jnz .parent
    jmp esi                 ; the child runs its code and never comes back
.parent:
    push esi
    mov ebx, eax            ; wait4(pid, &status, 0, NULL)
    mov ecx, status
    xor edx, edx
    xor esi, esi
    mov eax, 114
    int 0x80
    pop esi
    mov eax, [status]
    test eax, 0x7f          ; low 7 bits 0: it exited
    jnz .signal
    shr eax, 8              ; WEXITSTATUS
    and eax, 0xff
    mov edi, exited_num
    call two_digits
    mov ecx, exited
    mov edx, exited_len
    jmp .print
.signal:
    and eax, 0x7f           ; WTERMSIG
    mov edi, killed_num
    call two_digits
    mov ecx, killed
    mov edx, killed_len
.print:
    mov eax, 4              ; write(1, ecx, edx)
    mov ebx, 1
    int 0x80
    ret

; eax (0..99) as two decimal digits at [edi]
two_digits:
    mov ecx, 10
    xor edx, edx
    div ecx                 ; eax = tens, edx = units
    add al, '0'
    add dl, '0'
    mov [edi], al
    mov [edi + 1], dl
    ret
