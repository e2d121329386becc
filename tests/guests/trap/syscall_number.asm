; The x86-64 syscall number is an int: do_syscall_64 indexes the table with the low 32 bits
; of rax, so junk in the upper half is ignored; negative numbers and x32 numbers (bit 30,
; __X32_SYSCALL_BIT) are outside the table: ENOSYS on a kernel without the x32 ABI.
; `int 0x80` from 64-bit code takes eax the same way. Each call's rax is written to stdout
; as a 64-bit word (getpid's compared with a plain getpid), then the exit status is 0.
bits 64
default rel

section .data
msg:        db "hi", 10
results:    times 16 dq 0

section .text
global _start
_start:
    lea rbx, [results]
    mov rax, 0xdeadbeef00000001     ; write(1, "hi\n", 3): the upper half is junk
    mov edi, 1
    lea rsi, [msg]
    mov edx, 3
    syscall
    mov [rbx], rax
    mov eax, 39                     ; the real pid, to compare with below
    syscall
    mov r12, rax
    mov rax, 0x1000000000000027     ; getpid with junk in the upper half
    syscall
    sub rax, r12                    ; 0 when it was getpid
    mov [rbx + 8], rax
    mov rax, 0x40000027             ; x32's getpid
    syscall
    mov [rbx + 16], rax
    mov rax, 0x40000001             ; x32's write(1, "hi\n", 3): nothing written
    mov edi, 1
    lea rsi, [msg]
    mov edx, 3
    syscall
    mov [rbx + 24], rax
    mov rax, 0xffffffff             ; -1 as an int
    syscall
    mov [rbx + 32], rax
    mov rax, -1                     ; -1 in all 64 bits
    syscall
    mov [rbx + 40], rax
    mov rax, 0x00000001ffffffff     ; the low half is -1
    syscall
    mov [rbx + 48], rax
    mov rax, 0x80000027             ; a negative int
    syscall
    mov [rbx + 56], rax
    mov rax, 0x0000000100000027     ; bit 32 only: getpid
    syscall
    sub rax, r12
    mov [rbx + 64], rax
    mov eax, 1000                   ; past the end of the table
    syscall
    mov [rbx + 72], rax
    mov rax, 0xffffffff00000014     ; int 0x80 from 64-bit code: eax 20, i386's getpid
    int 0x80
    sub rax, r12
    mov [rbx + 80], rax
    mov rax, 0x40000014             ; int 0x80 with bit 30: no x32 there, ENOSYS
    int 0x80
    mov [rbx + 88], rax

    mov eax, 1                      ; write(1, results, 96)
    mov edi, 1
    mov rsi, rbx
    mov edx, 96
    syscall
    mov eax, 60
    xor edi, edi
    syscall
