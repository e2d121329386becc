bits 64
section .bss
copy:   resb 256
section .text
_start:
    mov rsi, [rsp + 16]         ; argv[1], a 47-bit stack address
    lea rdi, [rip + copy]       ; below 4 GiB
    xor edx, edx
copy_byte:
    mov al, [rsi + rdx]
    test al, al
    jz copied
    mov [rdi + rdx], al
    inc edx
    jmp copy_byte
copied:
    mov byte [rdi + rdx], 10    ; the newline
    inc edx
    mov eax, 4                  ; i386 write
    mov ebx, 1
    mov ecx, edi                ; fits in 32 bits
    int 0x80
    mov eax, 1                  ; i386 exit
    xor ebx, ebx
    int 0x80
