; i386's socketcall multiplexer through int 0x80: socketpair (SYS_SOCKETPAIR = 8), send
; (SYS_SEND = 9) on one end, recv (SYS_RECV = 10) on the other, then the bytes to stdout.
; Each call's arguments are an array of words in memory, its address in ecx.
bits 32

section .data
msg:    db "hi from socketcall", 10
len     equ $ - msg

section .bss
sv:     resd 2
buf:    resb 64
args:   resd 6

section .text
global _start
_start:
    mov dword [args], 1         ; AF_UNIX
    mov dword [args + 4], 1     ; SOCK_STREAM
    mov dword [args + 8], 0
    mov dword [args + 12], sv
    mov eax, 102                ; socketcall
    mov ebx, 8                  ; SYS_SOCKETPAIR
    mov ecx, args
    int 0x80
    test eax, eax
    jnz fail

    mov eax, [sv]
    mov [args], eax
    mov dword [args + 4], msg
    mov dword [args + 8], len
    mov dword [args + 12], 0
    mov eax, 102
    mov ebx, 9                  ; SYS_SEND
    mov ecx, args
    int 0x80
    cmp eax, len
    jne fail

    mov eax, [sv + 4]
    mov [args], eax
    mov dword [args + 4], buf
    mov dword [args + 8], 64
    mov dword [args + 12], 0
    mov eax, 102
    mov ebx, 10                 ; SYS_RECV
    mov ecx, args
    int 0x80
    cmp eax, len
    jne fail

    mov edx, eax                ; write(1, buf, count)
    mov eax, 4
    mov ebx, 1
    mov ecx, buf
    int 0x80

    mov eax, 102
    mov ebx, 21                 ; no such socketcall: EINVAL
    mov ecx, args
    int 0x80
    cmp eax, -22
    jne fail

    mov eax, 1                  ; exit(0)
    xor ebx, ebx
    int 0x80
fail:
    mov eax, 1
    mov ebx, 1
    int 0x80
