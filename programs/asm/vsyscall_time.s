; The time through the vsyscall page: a call to a fixed address, 0xffffffffff600000.
; Once real code lived there (vsyscall=native); since 3.2 the kernel traps the call and
; emulates it (emulate, xonly); with vsyscall=none the call is a SIGSEGV.
bits 64

section .data
tv:     dq -1, -1               ; struct timeval {tv_sec, tv_usec}: not a time until written
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
    mov rax, [rip + tv + 8]     ; the call wrote a time: 0 <= tv_usec < 1000000 (on any
    cmp rax, 1000000            ; clock: real, virtual, or frozen at any epoch)
    jae bad
    xor edi, edi                ; time(NULL) at +0x400 returns the seconds in rax
    mov rax, 0xffffffffff600400
    call rax
    sub rax, [rip + tv]         ; within a second of gettimeofday's: the two calls are a
    cmp rax, 1                  ; few modelled microseconds apart (a virtual clock), or the
    ja bad                      ; emulator's own time (the real one); never before it
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
