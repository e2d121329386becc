; Single-stepping with EFLAGS.TF in 64-bit code, without libc. Each SIGTRAP the handler
; takes is recorded (si_code, si_addr, the saved rip, the saved TF bit, trapno) and the
; records are written to stdout as 64-bit words, so a native run and a run under
; syscall-lab can be compared byte for byte (the program is not PIE: same addresses).
;   phase 1: popf sets TF; the stepped code makes a syscall (the trap after `syscall`
;            comes one instruction later, as Linux returns by IRET), runs int3 (SI_KERNEL),
;            steps a `rep movsb` (a trap per iteration, at the instruction itself),
;            reads the flags with pushf, and clears TF with popf (a trap still follows it).
;   phase 2: a SIGUSR1 handler sets TF in its ucontext: stepping starts after sigreturn;
;            the SIGTRAP handler clears TF in the ucontext when the rip reaches stop2.
;   Built with -DVSYSCALL (step64_vsyscall), the syscall is a call into the vsyscall page:
;   the trap after the `call` has the page's address, the emulated call itself none.
; Exit status: the number of SIGTRAPs taken.
bits 64
default rel

SA_SIGINFO   equ 4
SA_RESTORER  equ 0x04000000
TF           equ 0x100
UC_RIP       equ 40 + 16 * 8
UC_EFLAGS    equ 40 + 17 * 8
UC_TRAPNO    equ 40 + 20 * 8
MAXREC       equ 40

section .data
trap_act:   dq on_trap, SA_SIGINFO | SA_RESTORER, restorer, 0
usr1_act:   dq on_usr1, SA_SIGINFO | SA_RESTORER, restorer, 0
count:      dq 0
pushed:     dq 0                    ; the flags pushf saw while stepping
records:    times MAXREC * 5 dq 0

section .text
global _start
_start:
    mov eax, 13                     ; rt_sigaction(SIGTRAP, &trap_act, NULL, 8)
    mov edi, 5
    lea rsi, [trap_act]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 13                     ; rt_sigaction(SIGUSR1, &usr1_act, NULL, 8)
    mov edi, 10
    lea rsi, [usr1_act]
    xor edx, edx
    mov r10d, 8
    syscall

    pushfq
    or qword [rsp], TF
    popfq                           ; TF was clear at its start: no trap after it
    nop
    mov edx, 5
%ifdef VSYSCALL
    xor edi, edi
    mov rax, 0xffffffffff600400     ; time(NULL) in the vsyscall page: emulated, no trap
    call rax
%else
    mov eax, 39                     ; getpid
    syscall
%endif
    nop
    lea rsi, [pushed]
    lea rdi, [pushed]
    mov ecx, 3
    rep movsb
    int3
    nop
    pushfq
    pop rax
    and rax, TF                     ; (only TF: the other flags are not the point here)
    mov [pushed], rax
    pushfq
    and qword [rsp], ~TF
    popfq                           ; TF was set at its start: one trap after it
    nop
    nop

    mov eax, 39                     ; kill(getpid(), SIGUSR1)
    syscall
    mov edi, eax
    mov esi, 10
    mov eax, 62
    syscall
    nop                             ; stepped from here: the handler set TF
    add edx, 1
stop2:
    nop
    nop

    mov rax, [count]                ; write(1, records, count * 40), then the pushed flags
    cmp rax, MAXREC
    jbe .n
    mov eax, MAXREC
.n: imul rdx, rax, 40
    mov eax, 1
    mov edi, 1
    lea rsi, [records]
    syscall
    mov eax, 1
    mov edi, 1
    lea rsi, [pushed]
    mov edx, 8
    syscall
    mov eax, 60
    mov rdi, [count]
    syscall

on_trap:                            ; (sig, siginfo *rsi, ucontext *rdx)
    mov rax, [count]
    inc qword [count]
    cmp rax, MAXREC
    jae .full
    imul rax, rax, 40
    lea rcx, [records]
    add rcx, rax
    movsxd rax, dword [rsi + 8]     ; si_code
    mov [rcx], rax
    mov rax, [rsi + 16]             ; si_addr
    mov [rcx + 8], rax
    mov rax, [rdx + UC_RIP]
    mov [rcx + 16], rax
    mov rax, [rdx + UC_EFLAGS]
    and rax, TF
    mov [rcx + 24], rax
    mov rax, [rdx + UC_TRAPNO]
    mov [rcx + 32], rax
    lea rax, [stop2]
    cmp [rdx + UC_RIP], rax
    jne .ret
.full:
    and qword [rdx + UC_EFLAGS], ~TF
.ret:
    ret

on_usr1:
    or qword [rdx + UC_EFLAGS], TF
    ret

restorer:
    mov eax, 15                     ; rt_sigreturn
    syscall
