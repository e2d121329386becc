; The raw error: open("/no/such/file", O_RDONLY) with the syscall instruction. The kernel
; returns one number in rax: a file descriptor, or minus an errno code. Here rax = -2
; (-ENOENT). There is no errno variable at this level: that is libc's invention (its
; wrapper turns any rax in [-4095, -1] into errno = -rax and a return value of -1; see
; errno-enoent, the same call from C). The program prints rax in decimal and exits
; with -rax: status 2.
bits 64

section .data
path:   db "/no/such/file", 0
label:  db "open returned rax = "
llen    equ $ - label

section .bss
digits: resb 24

section .text
global _start
_start:
    mov eax, 2                  ; open (openat is 257; glibc uses that one)
    lea rdi, [rip + path]
    xor esi, esi                ; O_RDONLY
    syscall                     ; rax <- -2
    mov r12, rax                ; keep it: print_signed clobbers rax

    mov eax, 1                  ; write(1, label, llen)
    mov edi, 1
    lea rsi, [rip + label]
    mov edx, llen
    syscall
    mov rax, r12
    call print_signed

    mov rdi, r12
    neg rdi                     ; 2
    mov eax, 60
    syscall

; print_signed: rax = a signed number, printed in decimal with a newline.
print_signed:
    lea rsi, [rip + digits + 23]
    mov byte [rsi], 10
    mov r8, rax                 ; the sign, for later
    test rax, rax
    jns convert
    neg rax
convert:
    mov ecx, 10
next_digit:
    xor edx, edx
    div rcx                     ; rax = rax / 10, rdx = the last digit
    add dl, '0'
    dec rsi
    mov [rsi], dl
    test rax, rax
    jnz next_digit
    test r8, r8
    jns print
    dec rsi
    mov byte [rsi], '-'
print:
    lea rdx, [rip + digits + 24]
    sub rdx, rsi                ; the length
    mov eax, 1
    mov edi, 1
    syscall
    ret
