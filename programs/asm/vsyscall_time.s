; The time through the vsyscall page: a call to a fixed address, 0xffffffffff600000.
; Once real code lived there (vsyscall=native); since 3.2 the kernel traps the call and
; emulates it (emulate, xonly); with vsyscall=none the call is a SIGSEGV.
bits 64

section .bss
tv:     resq 2                  ; struct timeval {tv_sec, tv_usec}

section .data
msg:    db "vsyscall gettimeofday: ok", 10
len     equ $ - msg

section .text
_start:
    lea rdi, [rip + tv]         ; gettimeofday(&tv, NULL)
    xor esi, esi
    mov rax, 0xffffffffff600000 ; the vsyscall page: gettimeofday at +0x000
    call rax
    test rax, rax
    jnz bad
    mov rax, [rip + tv]         ; a plausible time: after 2020-01-01
    cmp rax, 1577836800
    jb bad
    xor edi, edi                ; time(NULL) at +0x400 returns the seconds in rax
    mov rax, 0xffffffffff600400
    call rax
    sub rax, [rip + tv]         ; within a second of gettimeofday's
    cmp rax, 1
    ja bad
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + msg]
    mov edx, len
    syscall
    mov eax, 60
    xor edi, edi
    syscall
bad:
    mov eax, 60
    mov edi, 1
    syscall
