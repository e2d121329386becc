; Single-stepping with EFLAGS.TF in i386 code, without libc: step64.asm's phases with
; `int 0x80`, and a third through the vDSO's __kernel_vsyscall (AT_SYSINFO), whose return
; to the landing pad is the trap after `sysenter` (or an AMD CPU's `syscall`): Linux
; returns by IRET when TF is set, so the first trap comes after `pop ebp`.
; Output (32-bit words): AT_SYSINFO (0 if none), then per SIGTRAP si_code, si_addr, the
; saved eip, the saved TF bit, trapno; then the TF bit pushf saw. Exit status: the count.
bits 32

SA_SIGINFO   equ 4
SA_RESTORER  equ 0x04000000
TF           equ 0x100
UC_EIP       equ 20 + 14 * 4
UC_EFLAGS    equ 20 + 16 * 4
UC_TRAPNO    equ 20 + 12 * 4
AT_SYSINFO   equ 32
MAXREC       equ 40

section .data
trap_act:   dd on_trap, SA_SIGINFO | SA_RESTORER, restorer, 0, 0
usr1_act:   dd on_usr1, SA_SIGINFO | SA_RESTORER, restorer, 0, 0
sysinfo:    dd 0
count:      dd 0
records:    times MAXREC * 5 dd 0
pushed:     dd 0

section .text
global _start
_start:
    mov esi, esp                    ; find AT_SYSINFO: past argc, argv[], envp[]
    mov eax, [esi]
    lea esi, [esi + eax * 4 + 8]
.env:
    add esi, 4
    cmp dword [esi - 4], 0
    jne .env
.aux:
    mov eax, [esi]
    test eax, eax
    jz .aux_end
    cmp eax, AT_SYSINFO
    jne .aux_next
    mov eax, [esi + 4]
    mov [sysinfo], eax
.aux_next:
    add esi, 8
    jmp .aux
.aux_end:

    mov eax, 174                    ; rt_sigaction(SIGTRAP, &trap_act, NULL, 8)
    mov ebx, 5
    mov ecx, trap_act
    xor edx, edx
    mov esi, 8
    int 0x80
    mov eax, 174                    ; rt_sigaction(SIGUSR1, &usr1_act, NULL, 8)
    mov ebx, 10
    mov ecx, usr1_act
    xor edx, edx
    mov esi, 8
    int 0x80

    pushfd
    or dword [esp], TF
    popfd                           ; TF was clear at its start: no trap after it
    nop
    mov edx, 5
    mov eax, 20                     ; getpid
    int 0x80
    nop
    int3
    nop
    pushfd
    pop eax
    and eax, TF                     ; (only TF: the other flags are not the point here)
    mov [pushed], eax
    pushfd
    and dword [esp], ~TF
    popfd                           ; TF was set at its start: one trap after it
    nop
    nop

    mov eax, 20                     ; kill(getpid(), SIGUSR1)
    int 0x80
    mov ebx, eax
    mov ecx, 10
    mov eax, 37
    int 0x80
    nop                             ; stepped from here: the handler set TF
    add edx, 1
stop2:
    nop
    nop

    mov ecx, [sysinfo]
    test ecx, ecx
    jz no_vdso
    pushfd
    or dword [esp], TF
    popfd
    mov eax, 20                     ; getpid through __kernel_vsyscall, as libc calls it
    call ecx
    nop
stop3:
    nop
no_vdso:

    mov eax, 4                      ; write(1, &sysinfo, 4 + count * 20), then pushed
    mov ebx, 1
    mov ecx, sysinfo
    mov edx, 4
    int 0x80
    mov eax, [count]
    cmp eax, MAXREC
    jbe .n2
    mov eax, MAXREC
.n2: imul edx, eax, 20
    mov eax, 4
    mov ebx, 1
    mov ecx, records
    int 0x80
    mov eax, 4
    mov ebx, 1
    mov ecx, pushed
    mov edx, 4
    int 0x80
    mov eax, 1
    mov ebx, [count]
    int 0x80

on_trap:                            ; (sig, siginfo *, ucontext *) on the stack
    push ebx
    push esi
    mov esi, [esp + 16]             ; siginfo
    mov edx, [esp + 20]             ; ucontext
    mov eax, [count]
    inc dword [count]
    cmp eax, MAXREC
    jae .full
    imul eax, eax, 20
    lea ecx, [records + eax]
    mov eax, [esi + 8]              ; si_code
    mov [ecx], eax
    mov eax, [esi + 12]             ; si_addr
    mov [ecx + 4], eax
    mov eax, [edx + UC_EIP]
    mov [ecx + 8], eax
    mov eax, [edx + UC_EFLAGS]
    and eax, TF
    mov [ecx + 12], eax
    mov eax, [edx + UC_TRAPNO]
    mov [ecx + 16], eax
    mov eax, [edx + UC_EIP]
    cmp eax, stop2
    je .full
    cmp eax, stop3
    jne .ret
.full:
    and dword [edx + UC_EFLAGS], ~TF
.ret:
    pop esi
    pop ebx
    ret

on_usr1:
    mov edx, [esp + 12]
    or dword [edx + UC_EFLAGS], TF
    ret

restorer:
    mov eax, 173                    ; rt_sigreturn
    int 0x80
