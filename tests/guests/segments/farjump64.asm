; A 64-bit program visits compat mode (cs 0x23) and back: by a far jmp, a far call and
; retf, printing what only 32-bit decoding gives.
bits 64
section .data
msg32:  db "in compat mode: eax=0x"
hexbuf: db "00000000", 10
msg32len equ $ - msg32
msg64:  db "back in 64-bit mode: cs=0x"
cs64:   db "00, r12 kept: "
kept:   db "?", 10
msg64len equ $ - msg64
fptr:   dd 0
        dw 0
section .text
global _start
_start:
    lea rsp, [rel stack_top]    ; compat mode uses esp: the stack must be below 4 GiB
    mov r12, 0x1122334455667788
    lea eax, [rel compat]
    mov [rel fptr], eax
    mov word [rel fptr+4], 0x23
    jmp dword far [rel fptr]
bits 32
compat:
    mov eax, ss             ; a 64-bit process starts with ds = es = 0, which compat mode
    mov ds, eax             ; cannot use for data: load __USER_DS (ss) first
    mov es, eax
    mov eax, 0x100
    db 0x48                 ; dec eax (a REX prefix in 64-bit mode)
    mov edx, eax
    mov edi, hexbuf + 7
    mov ecx, 8
.hex:
    mov eax, edx
    and eax, 15
    mov al, [hexdig + eax]
    mov [edi], al
    dec edi
    shr edx, 4
    loop .hex
    push ebx
    mov eax, 4
    mov ebx, 1
    mov ecx, msg32
    mov edx, msg32len
    int 0x80
    pop ebx
    push 0x33
    push back64
    retf
bits 64
back64:
    mov ax, cs
    movzx eax, ax
    mov ecx, eax
    shr ecx, 4
    mov cl, [hexdig + rcx]
    mov [rel cs64], cl
    and eax, 15
    mov al, [hexdig + rax]
    mov [rel cs64+1], al
    mov rax, 0x1122334455667788
    cmp r12, rax
    mov byte [rel kept], 'n'
    jne .print
    mov byte [rel kept], 'y'
.print:
    mov eax, 1
    mov edi, 1
    lea rsi, [rel msg64]
    mov edx, msg64len
    syscall
    ; a far call into compat code, which returns with retf
    lea eax, [rel sub32]
    mov [rel fptr], eax
    call dword far [rel fptr]
    mov edi, eax
    mov eax, 60
    syscall
bits 32
sub32:
    mov eax, 42
    retf
section .bss
alignb 16
        resb 4096
stack_top:
section .rodata
hexdig: db "0123456789abcdef"
