; The time three ways, i386:
;   1. `int 0x80`: clock_gettime (265 in the i386 table) through the IDT gate;
;   2. `sysenter`: the same call through __kernel_vsyscall, found in AT_SYSINFO;
;   3. the vDSO: __vdso_clock_gettime at version LINUX_2.6, found by walking the ELF
;      dynamic symbol table at AT_SYSINFO_EHDR, and called: no crossing at all.
; (i386 processes have no vsyscall page.) Prints the seconds each way got; exits 0 when
; they agree within a second.
bits 32

section .data
name:     db "__vdso_clock_gettime", 0
version:  db "LINUX_2.6", 0
l_int80:  db "int 0x80 clock_gettime: ", 0
l_sysent: db "sysenter clock_gettime: ", 0
l_vdso:   db "vDSO     clock_gettime: ", 0
l_novdso: db "no vDSO (AT_SYSINFO/AT_SYSINFO_EHDR missing)", 10, 0

section .bss
ts_int80: resd 2
ts_sysent: resd 2
ts_vdso:  resd 2
sysinfo:  resd 1
ehdr:     resd 1
digits:   resb 16

section .text
_start:
    mov ebp, esp
    ; Find AT_SYSINFO (32) and AT_SYSINFO_EHDR (33) past argc, argv[] and envp[].
    mov eax, [ebp]
    lea ebx, [ebp + 4 + eax*4 + 4]
skip_env:
    cmp dword [ebx], 0
    lea ebx, [ebx + 4]
    jne skip_env
scan_auxv:
    mov eax, [ebx]
    test eax, eax
    jz auxv_done
    mov edx, [ebx + 4]
    cmp eax, 32
    jne not_sysinfo
    mov [sysinfo], edx
not_sysinfo:
    cmp eax, 33
    jne not_ehdr
    mov [ehdr], edx
not_ehdr:
    add ebx, 8
    jmp scan_auxv
auxv_done:

    ; 1. int 0x80
    mov eax, 265                ; clock_gettime in ia32_sys_call_table
    xor ebx, ebx                ; CLOCK_REALTIME
    mov ecx, ts_int80
    int 0x80
    mov esi, l_int80
    mov eax, [ts_int80]
    call print_line

    cmp dword [sysinfo], 0
    je no_vdso

    ; 2. sysenter, by calling __kernel_vsyscall as libc does
    mov eax, 265
    xor ebx, ebx
    mov ecx, ts_sysent
    call [sysinfo]
    mov esi, l_sysent
    mov eax, [ts_sysent]
    call print_line

    ; 3. the vDSO
    call vdso_lookup
    test eax, eax
    jz no_vdso
    push ts_vdso                ; cdecl: arguments on the stack, right to left
    push 0                      ; CLOCK_REALTIME
    call eax
    add esp, 8
    mov esi, l_vdso
    mov eax, [ts_vdso]
    call print_line

    mov eax, [ts_vdso]
    sub eax, [ts_int80]
    cmp eax, 1
    ja disagree
    mov eax, [ts_sysent]
    sub eax, [ts_int80]
    cmp eax, 1
    ja disagree
    mov eax, 1
    xor ebx, ebx
    int 0x80
no_vdso:
    mov esi, l_novdso
    call print_str
    mov eax, 1
    xor ebx, ebx
    int 0x80
disagree:
    mov eax, 1
    mov ebx, 1
    int 0x80

; vdso_lookup: returns eax = __vdso_clock_gettime@LINUX_2.6 in the vDSO at [ehdr], or 0.
vdso_lookup:
    push ebx
    push esi
    push edi
    push ebp
    sub esp, 20                 ; [esp] hash, [esp+4] symtab, [esp+8] strtab,
                                ; [esp+12] versym, [esp+16] verdef
    mov ebp, [ehdr]
    mov eax, [ebp + 28]         ; e_phoff
    lea esi, [ebp + eax]
    movzx ecx, word [ebp + 44]  ; e_phnum
find_dynamic:
    test ecx, ecx
    jz lookup_fail
    cmp dword [esi], 2          ; PT_DYNAMIC
    je have_dynamic
    add esi, 32
    dec ecx
    jmp find_dynamic
have_dynamic:
    mov esi, [esi + 8]          ; p_vaddr
    add esi, ebp
    mov dword [esp], 0
    mov dword [esp + 12], 0
    mov dword [esp + 16], 0
next_dyn:
    mov eax, [esi]
    mov edx, [esi + 4]
    add edx, ebp
    add esi, 8
    test eax, eax
    jz dyn_done
    cmp eax, 4
    jne d1
    mov [esp], edx
d1: cmp eax, 6
    jne d2
    mov [esp + 4], edx
d2: cmp eax, 5
    jne d3
    mov [esp + 8], edx
d3: cmp eax, 0x6ffffff0
    jne d4
    mov [esp + 12], edx
d4: cmp eax, 0x6ffffffc
    jne next_dyn
    mov [esp + 16], edx
    jmp next_dyn
dyn_done:
    mov eax, [esp]
    test eax, eax
    jz lookup_fail
    xor ebx, ebx                ; symbol index
next_sym:
    mov eax, [esp]
    cmp ebx, [eax + 4]          ; nchain
    jae lookup_fail
    mov edi, ebx
    shl edi, 4                  ; sizeof(Elf32_Sym)
    add edi, [esp + 4]
    mov eax, [edi]              ; st_name
    add eax, [esp + 8]
    push edi
    mov edi, eax
    mov esi, name
    call streq
    pop edi
    test eax, eax
    jz try_next
    mov eax, [esp + 12]
    test eax, eax
    jz take_it
    movzx eax, word [eax + ebx*2]
    and eax, 0x7fff
    mov edx, [esp + 16]
find_verdef:
    test edx, edx
    jz try_next
    cmp ax, [edx + 4]           ; vd_ndx
    je check_version
    mov ecx, [edx + 16]         ; vd_next
    test ecx, ecx
    jz try_next
    add edx, ecx
    jmp find_verdef
check_version:
    mov ecx, [edx + 12]         ; vd_aux
    mov ecx, [edx + ecx]        ; vda_name
    add ecx, [esp + 8]
    push edi
    mov edi, ecx
    mov esi, version
    call streq
    pop edi
    test eax, eax
    jz try_next
take_it:
    mov eax, [edi + 4]          ; st_value
    add eax, ebp
    jmp lookup_out
try_next:
    inc ebx
    jmp next_sym
lookup_fail:
    xor eax, eax
lookup_out:
    add esp, 20
    pop ebp
    pop edi
    pop esi
    pop ebx
    ret

; streq: edi, esi NUL-terminated; eax = 1 when equal.
streq:
    mov al, [edi]
    cmp al, [esi]
    jne streq_no
    test al, al
    jz streq_yes
    inc edi
    inc esi
    jmp streq
streq_yes:
    mov eax, 1
    ret
streq_no:
    xor eax, eax
    ret

; print_line: esi = label, eax = number.
print_line:
    push eax
    call print_str
    pop eax
    mov edi, digits + 15
    mov byte [edi], 10
    mov ecx, 10
to_decimal:
    xor edx, edx
    div ecx
    add dl, '0'
    dec edi
    mov [edi], dl
    test eax, eax
    jnz to_decimal
    mov ecx, edi
    mov edx, digits + 16
    sub edx, edi
    mov eax, 4
    mov ebx, 1
    int 0x80
    ret

; print_str: esi = NUL-terminated string.
print_str:
    xor edx, edx
count:
    cmp byte [esi + edx], 0
    je counted
    inc edx
    jmp count
counted:
    mov eax, 4
    mov ebx, 1
    mov ecx, esi
    int 0x80
    ret
