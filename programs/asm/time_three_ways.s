; The time three ways, x86-64:
;   1. a raw syscall: clock_gettime(CLOCK_REALTIME) with the `syscall` instruction;
;   2. the vDSO: find it through the auxiliary vector (AT_SYSINFO_EHDR), walk its ELF
;      dynamic symbol table for __vdso_clock_gettime at version LINUX_2.6, and call it:
;      no crossing into the kernel at all;
;   3. the vsyscall page: call the fixed address 0xffffffffff600000 (gettimeofday); today
;      the kernel traps that call and emulates it.
; Prints the seconds each way returned; exits 0 when they agree within a second.
bits 64

section .data
name:     db "__vdso_clock_gettime", 0
version:  db "LINUX_2.6", 0
l_sys:    db "syscall  clock_gettime: ", 0
l_vdso:   db "vDSO     clock_gettime: ", 0
l_vsys:   db "vsyscall gettimeofday:  ", 0
l_novdso: db "no vDSO (AT_SYSINFO_EHDR missing)", 10, 0

section .bss
ts_sys:   resq 2
ts_vdso:  resq 2
tv_vsys:  resq 2
digits:   resb 32

section .text
_start:
    mov rbp, rsp                ; keep the initial stack: argc, argv, envp, auxv

    ; 1. The raw syscall: rax = 228 indexes sys_call_table.
    mov eax, 228
    xor edi, edi                ; CLOCK_REALTIME
    lea rsi, [rip + ts_sys]
    syscall
    lea rdi, [rip + l_sys]
    mov rsi, [rip + ts_sys]
    call print_line

    ; 2. The vDSO. Skip argc, argv[] and envp[] to reach the auxv pairs.
    mov rax, [rbp]              ; argc
    lea rbx, [rbp + 8 + rax*8 + 8]
skip_env:
    cmp qword [rbx], 0
    lea rbx, [rbx + 8]
    jne skip_env
find_ehdr:
    mov rax, [rbx]
    test rax, rax               ; AT_NULL: no vDSO (vdso=0, or --no-vdso)
    jz no_vdso
    cmp rax, 33                 ; AT_SYSINFO_EHDR
    je found_ehdr
    add rbx, 16
    jmp find_ehdr
found_ehdr:
    mov r12, [rbx + 8]          ; r12 = the vDSO's ELF header (its load address)
    call vdso_lookup            ; rax = __vdso_clock_gettime, or 0
    test rax, rax
    jz no_vdso
    xor edi, edi                ; CLOCK_REALTIME
    lea rsi, [rip + ts_vdso]
    call rax                    ; a plain call: the kernel never runs
    lea rdi, [rip + l_vdso]
    mov rsi, [rip + ts_vdso]
    call print_line
    jmp vsys
no_vdso:
    lea rdi, [rip + l_novdso]
    call print_str
    mov rax, [rip + ts_sys]
    mov [rip + ts_vdso], rax

vsys:
    ; 3. The vsyscall page: gettimeofday at its fixed address.
    lea rdi, [rip + tv_vsys]
    xor esi, esi
    mov rax, 0xffffffffff600000
    call rax
    lea rdi, [rip + l_vsys]
    mov rsi, [rip + tv_vsys]
    call print_line

    ; Agree within a second?
    mov rax, [rip + ts_vdso]
    sub rax, [rip + ts_sys]
    cmp rax, 1
    ja disagree
    mov rax, [rip + tv_vsys]
    sub rax, [rip + ts_sys]
    cmp rax, 1
    ja disagree
    mov eax, 60
    xor edi, edi
    syscall
disagree:
    mov eax, 60
    mov edi, 1
    syscall

; vdso_lookup: r12 = ELF header of the vDSO. Returns rax = the address of `name` at
; `version`, or 0. Walks program headers -> PT_DYNAMIC -> DT_HASH/DT_SYMTAB/DT_STRTAB/
; DT_VERSYM/DT_VERDEF, as a dynamic linker does (the load bias is the header's address:
; the vDSO's first PT_LOAD has vaddr 0).
vdso_lookup:
    push rbx
    push r13
    push r14
    push r15
    mov rax, [r12 + 32]         ; e_phoff
    lea rsi, [r12 + rax]
    movzx ecx, word [r12 + 56]  ; e_phnum
find_dynamic:
    test ecx, ecx
    jz lookup_fail
    cmp dword [rsi], 2          ; PT_DYNAMIC
    je have_dynamic
    add rsi, 56
    dec ecx
    jmp find_dynamic
have_dynamic:
    mov rsi, [rsi + 16]         ; p_vaddr
    add rsi, r12
    xor r8d, r8d                ; DT_HASH
    xor r9d, r9d                ; DT_SYMTAB
    xor r10d, r10d              ; DT_STRTAB
    xor r11d, r11d              ; DT_VERSYM
    xor r13d, r13d              ; DT_VERDEF
next_dyn:
    mov rax, [rsi]
    mov rdx, [rsi + 8]
    add rdx, r12                ; every pointer tag is a vaddr: add the bias
    add rsi, 16
    test rax, rax
    jz dyn_done
    cmp rax, 4
    cmove r8, rdx
    cmp rax, 6
    cmove r9, rdx
    cmp rax, 5
    cmove r10, rdx
    mov rdi, 0x6ffffff0
    cmp rax, rdi
    cmove r11, rdx
    mov rdi, 0x6ffffffc
    cmp rax, rdi
    cmove r13, rdx
    jmp next_dyn
dyn_done:
    test r8, r8
    jz lookup_fail
    mov r14d, [r8 + 4]          ; nchain = the number of symbols
    xor r15d, r15d              ; symbol index
next_sym:
    cmp r15d, r14d
    jae lookup_fail
    imul rax, r15, 24           ; sizeof(Elf64_Sym)
    lea rbx, [r9 + rax]
    mov eax, [rbx]              ; st_name
    lea rdi, [r10 + rax]
    lea rsi, [rip + name]
    call streq
    test eax, eax
    jz try_next
    test r11, r11               ; no versions: the name is enough
    jz take_it
    movzx eax, word [r11 + r15*2]
    and eax, 0x7fff             ; versym[i]: the verdef index
    mov rdx, r13
find_verdef:
    test rdx, rdx
    jz try_next
    cmp ax, [rdx + 4]           ; vd_ndx
    je check_version
    mov ecx, [rdx + 16]         ; vd_next
    test ecx, ecx
    jz try_next
    add rdx, rcx
    jmp find_verdef
check_version:
    mov ecx, [rdx + 12]         ; vd_aux
    mov ecx, [rdx + rcx]        ; vda_name
    lea rdi, [r10 + rcx]
    lea rsi, [rip + version]
    call streq
    test eax, eax
    jz try_next
take_it:
    mov rax, [rbx + 8]          ; st_value
    add rax, r12
    jmp lookup_out
try_next:
    inc r15d
    jmp next_sym
lookup_fail:
    xor eax, eax
lookup_out:
    pop r15
    pop r14
    pop r13
    pop rbx
    ret

; streq: rdi, rsi NUL-terminated. eax = 1 when equal.
streq:
    mov al, [rdi]
    cmp al, [rsi]
    jne streq_no
    test al, al
    jz streq_yes
    inc rdi
    inc rsi
    jmp streq
streq_yes:
    mov eax, 1
    ret
streq_no:
    xor eax, eax
    ret

; print_line: rdi = label, rsi = a number. Prints "label<number>\n".
print_line:
    push rsi
    call print_str
    pop rax
    lea rsi, [rip + digits + 31]
    mov byte [rsi], 10
    mov ecx, 10
to_decimal:
    xor edx, edx
    div rcx
    add dl, '0'
    dec rsi
    mov [rsi], dl
    test rax, rax
    jnz to_decimal
    lea rdx, [rip + digits + 32]
    sub rdx, rsi                ; length
    mov eax, 1
    mov edi, 1
    syscall
    ret

; print_str: rdi = NUL-terminated string.
print_str:
    mov rsi, rdi
    xor edx, edx
count:
    cmp byte [rsi + rdx], 0
    je counted
    inc rdx
    jmp count
counted:
    mov eax, 1
    mov edi, 1
    syscall
    ret
