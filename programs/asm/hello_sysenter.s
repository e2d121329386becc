; Hello, world through `sysenter`, the fast i386 entry, the way libc does it: by calling
; __kernel_vsyscall, whose address the kernel passes in the auxiliary vector (AT_SYSINFO).
; Registers as for `int 0x80` (number in eax, arguments in ebx ecx edx). Raw `sysenter`
; in our own code would not do: the kernel returns to a fixed landing pad inside the vDSO,
; so only the vDSO's own `sysenter` may be used.
bits 32

section .data
msg:    db "Hello from sysenter!", 10
len     equ $ - msg

section .bss
sysinfo: resd 1                 ; the address of __kernel_vsyscall

section .text
global _start
_start:
    ; The initial stack: argc, argv[], NULL, envp[], NULL, then the auxv pairs.
    mov eax, [esp]              ; argc
    lea ebx, [esp + 4 + eax*4 + 4]  ; skip argc, argv[] and its NULL: envp[0]
skip_env:
    cmp dword [ebx], 0
    lea ebx, [ebx + 4]          ; lea leaves the flags alone
    jne skip_env
find_sysinfo:
    mov eax, [ebx]              ; a_type
    test eax, eax
    jz no_sysinfo               ; AT_NULL: the end (no vDSO: booted with vdso=0)
    cmp eax, 32                 ; AT_SYSINFO
    je found
    add ebx, 8                  ; the next {a_type, a_val} pair
    jmp find_sysinfo
found:
    mov eax, [ebx + 4]          ; a_val
    mov [sysinfo], eax

    mov eax, 4                  ; write, the i386 table's number
    mov ebx, 1                  ; fd 1: stdout
    mov ecx, msg
    mov edx, len
    call [sysinfo]              ; push ecx; push edx; push ebp; mov ebp, esp; sysenter
    mov eax, 1                  ; exit
    xor ebx, ebx
    call [sysinfo]              ; never returns

no_sysinfo:                     ; fall back to the slow, always-present path
    mov eax, 1
    mov ebx, 1
    int 0x80
