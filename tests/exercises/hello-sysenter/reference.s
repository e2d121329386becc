bits 32
section .data
hello:  db "Hello, "
bang:   db "!", 10
section .text
_start:
    mov eax, [esp]              ; argc
    mov edi, [esp + 8]          ; argv[1]
    lea ebx, [esp + 4 + eax*4 + 4]  ; envp[0]
skip_env:
    cmp dword [ebx], 0
    lea ebx, [ebx + 4]
    jne skip_env
find:
    mov eax, [ebx]
    test eax, eax
    jz fail
    cmp eax, 32                 ; AT_SYSINFO
    je found
    add ebx, 8
    jmp find
found:
    mov esi, [ebx + 4]          ; __kernel_vsyscall
    mov eax, 4
    mov ebx, 1
    mov ecx, hello
    mov edx, 7
    call esi
    xor edx, edx
len:
    cmp byte [edi + edx], 0
    je print
    inc edx
    jmp len
print:
    mov eax, 4
    mov ebx, 1
    mov ecx, edi
    call esi
    mov eax, 4
    mov ebx, 1
    mov ecx, bang
    mov edx, 2
    call esi
    mov eax, 1
    xor ebx, ebx
    call esi
fail:
    hlt
