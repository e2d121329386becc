"""Signals end to end: CPU faults and kill() become signals; a handler runs on a frame laid
out as Linux lays it out, and rt_sigreturn/sigreturn resume the interrupted code.

Most guests check themselves (the frame's fields, the registers on entry and after the
return) and exit 0 on success, or with a number naming the first check that failed."""

from __future__ import annotations

import os
import tempfile

import pytest
from conftest import run_guest

from kernel_model.trace.events import SignalDelivered


def signals_of(run):
    return [e for e in run.events if isinstance(e, SignalDelivered)]


def run64(source: str, **options):
    return run_guest("guest.s", source=source, bits=64, **options)


def run32(source: str, **options):
    return run_guest("guest.s", source=source, bits=32, **options)


# Exits with the status in edi / ebx: every "fail N" branch of the guests below.
FAILS64 = "".join(f"fail{n}:\n    mov edi, {n}\n    jmp out\n" for n in range(1, 31)) + """
out:
    mov eax, 60
    syscall
"""
FAILS32 = "".join(f"fail{n}:\n    mov ebx, {n}\n    jmp out\n" for n in range(1, 31)) + """
out:
    mov eax, 1
    int 0x80
"""

# struct ucontext (x86-64): uc_flags +0, uc_link +8, uc_stack +16, uc_mcontext +40,
# uc_sigmask +296; in uc_mcontext: rsp +120, rip +128, eflags +136, cs +144, ss +150,
# err +152, trapno +160, oldmask +168, cr2 +176, fpstate +184.
UC_RBX, UC_RSP, UC_RIP, UC_EFLAGS = 40 + 88, 40 + 120, 40 + 128, 40 + 136
UC_CS, UC_SS, UC_ERR, UC_TRAPNO, UC_CR2 = 40 + 144, 40 + 150, 40 + 152, 40 + 160, 40 + 176
UC_FPSTATE, UC_SIGMASK = 40 + 184, 296

SIGSEGV_HANDLER_64 = f"""
bits 64
section .data
act:    dq handler                  ; sa_handler
        dq 0x04000004               ; SA_RESTORER | SA_SIGINFO
        dq restorer                 ; sa_restorer
        dq 0                        ; sa_mask
section .text
_start:
    mov eax, 13                     ; rt_sigaction(SIGSEGV, &act, NULL, 8)
    mov edi, 11
    lea rsi, [rip + act]
    xor edx, edx
    mov r10d, 8
    syscall
    test rax, rax
    jnz fail1
    mov rbx, 0x1234                 ; callee-saved: must survive the handler
    mov r15, 0x5678
fault:
    mov rax, qword [0x10]           ; SIGSEGV, SEGV_MAPERR at 0x10
    jmp fail2                       ; never: the handler skips to `resumed`
resumed:
    cmp rbx, 0x1234
    jne fail3
    cmp r15, 0x5678
    jne fail4
    mov eax, 60
    xor edi, edi
    syscall

handler:                            ; rdi = signo, rsi = &info, rdx = &uc
    cmp edi, 11
    jne fail5
    test eax, eax                   ; rax = 0 on entry
    jnz fail6
    mov rax, rsp                    ; entered as if called: (rsp + 8) % 16 == 0
    and eax, 15
    cmp eax, 8
    jne fail7
    lea rax, [rsp + 8]              ; &info == frame + 8 + 304, &uc == frame + 8
    cmp rax, rdx
    jne fail8
    add rax, 304
    cmp rax, rsi
    jne fail9
    lea rax, [rip + restorer]       ; pretcode
    cmp [rsp], rax
    jne fail10
    cmp dword [rsi], 11             ; si_signo
    jne fail11
    cmp dword [rsi + 4], 0          ; si_errno
    jne fail12
    cmp dword [rsi + 8], 1          ; si_code = SEGV_MAPERR
    jne fail13
    cmp qword [rsi + 16], 0x10      ; si_addr
    jne fail14
    cmp qword [rdx], 7              ; uc_flags: UC_FP_XSTATE|UC_SIGCONTEXT_SS|UC_STRICT_RESTORE_SS
    jne fail15
    cmp qword [rdx + 8], 0          ; uc_link
    jne fail16
    cmp dword [rdx + 24], 0         ; uc_stack.ss_flags: 0, never configured (as Linux)
    jne fail17
    cmp qword [rdx + {UC_TRAPNO}], 14   ; trapno: #PF
    jne fail18
    cmp qword [rdx + {UC_ERR}], 4   ; err: user-mode read of a page not present
    jne fail19
    cmp qword [rdx + {UC_CR2}], 0x10
    jne fail20
    lea rax, [rip + fault]          ; the saved rip is the faulting instruction
    cmp [rdx + {UC_RIP}], rax
    jne fail21
    cmp word [rdx + {UC_CS}], 0x33
    jne fail22
    cmp word [rdx + {UC_SS}], 0x2b
    jne fail23
    cmp qword [rdx + {UC_RBX}], 0x1234
    jne fail24
    mov rax, [rdx + {UC_FPSTATE}]   ; the XSAVE area: 64-byte aligned, just above the
    test eax, 63                    ; frame (440 bytes from its return address, then
    jnz fail25                      ; the frame's own 16-byte alignment)
    sub rax, rsp
    cmp rax, 440
    jb fail25
    cmp rax, 440 + 24
    jae fail25
    lea rax, [rsp + 8 + 304 + 128 + 128]  ; the interrupted rsp is above frame + red zone
    cmp [rdx + {UC_RSP}], rax
    jb fail26
    xor ebx, ebx                    ; clobber: rt_sigreturn restores it
    lea rax, [rip + resumed]        ; "longjmp": resume elsewhere
    mov [rdx + {UC_RIP}], rax
    ret                             ; to the restorer
restorer:
    mov eax, 15                     ; rt_sigreturn
    syscall
{FAILS64}"""


def test_x86_64_sigsegv_handler_sees_linux_frame_and_resumes():
    run = run64(SIGSEGV_HANDLER_64)
    assert run.status == 0
    (sig,) = signals_of(run)
    assert (sig.signo, sig.name, sig.code, sig.addr, sig.action) == (11, "SIGSEGV", 1, 0x10,
                                                                     "handler")
    assert sig.text == "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---"
    names = [e.name for e in run.syscalls()]
    assert names == ["rt_sigaction", "rt_sigreturn", "exit"]
    assert run.system.kernel.current.sigmask == 0  # uc_sigmask restored


def test_sigsegv_without_handler_kills_with_139():
    run = run64("""
bits 64
section .text
_start:
    mov rax, qword [0x10]
    mov eax, 60
    xor edi, edi
    syscall
""")
    assert run.status == 139
    (sig,) = signals_of(run)
    assert sig.action == "killed"
    assert sig.text == "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---"
    assert run.system.process.killed_by == 11


@pytest.mark.parametrize("insn, status, name", [
    ("ud2", 132, "SIGILL"),
    ("xor edx, edx\n    xor ecx, ecx\n    div ecx", 136, "SIGFPE"),
    ("int3", 133, "SIGTRAP"),
])
def test_cpu_exceptions_default_action(insn, status, name):
    run = run64(f"""
bits 64
section .text
_start:
    mov eax, 1
    {insn}
    mov eax, 60
    xor edi, edi
    syscall
""")
    assert run.status == status
    (sig,) = signals_of(run)
    assert (sig.name, sig.action) == (name, "killed")


# Each exception with a handler: signo, si_code, si_addr and trapno as Linux fills them, and
# the saved rip (the faulting instruction for faults, the next one for int3's trap).
@pytest.mark.parametrize("signo, setup, insn, si_code, si_addr, trapno, rip", [
    (4, "", "ud2", 2, "fault", 6, "fault"),                       # SIGILL, ILL_ILLOPN, #UD
    (8, "xor edx, edx\n    xor ecx, ecx", "div ecx", 1, "fault", 0, "fault"),  # FPE_INTDIV, #DE
    (5, "", "int3", 0x80, "0", 3, "next"),                        # SIGTRAP, SI_KERNEL, #BP
])
def test_x86_64_exception_handlers(signo, setup, insn, si_code, si_addr, trapno, rip):
    addr = "0" if si_addr == "0" else f"[rip + {si_addr}]"
    check_addr = ("cmp qword [rsi + 16], 0" if si_addr == "0" else
                  f"lea rax, {addr}\n    cmp [rsi + 16], rax")
    run = run64(f"""
bits 64
section .data
act:    dq handler, 0x04000004, restorer, 0
section .text
_start:
    mov eax, 13
    mov edi, {signo}
    lea rsi, [rip + act]
    xor edx, edx
    mov r10d, 8
    syscall
    {setup}
fault:
    {insn}
next:
    jmp fail1
resumed:
    mov eax, 60
    xor edi, edi
    syscall
handler:
    cmp edi, {signo}
    jne fail2
    cmp dword [rsi + 8], {si_code}
    jne fail3
    {check_addr}
    jne fail4
    cmp qword [rdx + {UC_TRAPNO}], {trapno}
    jne fail5
    lea rax, [rip + {rip}]
    cmp [rdx + {UC_RIP}], rax
    jne fail6
    lea rax, [rip + resumed]
    mov [rdx + {UC_RIP}], rax
    ret
restorer:
    mov eax, 15
    syscall
{FAILS64}""")
    assert run.status == 0
    (sig,) = signals_of(run)
    assert (sig.signo, sig.action) == (signo, "handler")


KILL_HANDLER_64 = f"""
bits 64
section .data
act:    dq handler, 0x04000004, restorer
        dq 0x400                    ; sa_mask: SIGUSR2 (12) blocked while it runs
hits:   dq 0
section .text
_start:
    mov eax, 13                     ; rt_sigaction(SIGUSR1, ...)
    mov edi, 10
    lea rsi, [rip + act]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 39                     ; getpid
    syscall
    mov edi, eax
    mov rbx, 0x1111
    mov rbp, 0x2222
    mov r12, 0x3333
    mov r13, 0x4444
    mov r14, 0x5555
    mov r15, 0x6666
    mov r8, 0x7777
    mov esi, 10                     ; kill(getpid(), SIGUSR1)
    mov eax, 62
    syscall
after_kill:
    test rax, rax                   ; kill's result, saved in and restored from the frame
    jnz fail1
    cmp qword [rip + hits], 1
    jne fail2
    cmp rbx, 0x1111
    jne fail3
    cmp rbp, 0x2222
    jne fail3
    cmp r12, 0x3333
    jne fail3
    cmp r13, 0x4444
    jne fail3
    cmp r14, 0x5555
    jne fail3
    cmp r15, 0x6666
    jne fail3
    cmp r8, 0x7777
    jne fail3
    lea rax, [rip + after_kill]     ; rcx, r11 as `syscall` left them, not as the
    cmp rcx, rax                    ; handler's own syscalls did
    jne fail4
    sub rsp, 16                     ; the mask is empty again
    mov eax, 14                     ; rt_sigprocmask(SIG_BLOCK, NULL, &old, 8)
    xor edi, edi
    xor esi, esi
    mov rdx, rsp
    mov r10d, 8
    syscall
    cmp qword [rsp], 0
    jne fail5
    mov eax, 60
    mov edi, 42
    syscall

handler:
    cmp edi, 10
    jne fail6
    cmp dword [rsi], 10             ; si_signo
    jne fail7
    cmp dword [rsi + 8], 0          ; si_code = SI_USER
    jne fail8
    cmp dword [rsi + 16], 4242      ; si_pid
    jne fail9
    cmp dword [rsi + 20], {os.getuid()}  ; si_uid
    jne fail10
    cmp qword [rdx + {UC_SIGMASK}], 0  ; the mask before the handler
    jne fail11
    cmp qword [rdx + {UC_TRAPNO}], 0   ; no CPU exception behind this one
    jne fail12
    push rdx
    sub rsp, 8
    mov eax, 14                     ; the mask now: SIGUSR1 and sa_mask's SIGUSR2
    xor edi, edi
    xor esi, esi
    mov rdx, rsp
    mov r10d, 8
    syscall
    cmp qword [rsp], 0x600
    jne fail13
    add rsp, 8
    pop rdx
    xor ebx, ebx                    ; clobber everything the frame restores
    xor ebp, ebp
    xor r12d, r12d
    xor r13d, r13d
    xor r14d, r14d
    xor r15d, r15d
    xor r8d, r8d
    mov eax, 99
    inc qword [rip + hits]
    ret
restorer:
    mov eax, 15
    syscall
{FAILS64}"""


def test_x86_64_kill_self_handler_and_rt_sigreturn():
    run = run64(KILL_HANDLER_64)
    assert run.status == 42
    (sig,) = signals_of(run)
    assert (sig.signo, sig.code, sig.action) == (10, 0, "handler")
    assert [e.name for e in run.syscalls()].count("rt_sigreturn") == 1


SYSCALL_RCX_R11 = f"""
bits 64
section .text
_start:
    mov rcx, -1
    mov r11, -1
    stc                             ; CF set: visible in r11
    pushfq
    pop r12
    mov eax, 39                     ; getpid
    syscall
next:
    lea rax, [rip + next]
    cmp rcx, rax                    ; rcx = the address after `syscall`
    jne fail1
    cmp r11, r12                    ; r11 = rflags at the `syscall`
    jne fail2
    mov eax, 60
    xor edi, edi
    syscall
{FAILS64}"""


def test_syscall_sets_rcx_to_next_rip_and_r11_to_rflags():
    assert run64(SYSCALL_RCX_R11).status == 0


def test_x86_64_handler_without_sa_restorer_gets_sigsegv():
    """x86-64 has no default return stub: Linux refuses to build the frame (force_sigsegv);
    SIGSEGV's own handler is dropped, so the process dies of SIGSEGV."""
    run = run64("""
bits 64
section .data
act:    dq handler, 0x4, 0, 0       ; SA_SIGINFO only
section .text
_start:
    mov eax, 13
    mov edi, 11
    lea rsi, [rip + act]
    xor edx, edx
    mov r10d, 8
    syscall
    mov rax, qword [0x10]
    mov eax, 60
    xor edi, edi
    syscall
handler:
    mov eax, 60
    mov edi, 7
    syscall
""")
    assert run.status == 139
    sigs = signals_of(run)
    assert [(s.name, s.action) for s in sigs] == [("SIGSEGV", "handler"), ("SIGSEGV", "killed")]
    assert run.system.process.sigactions[11].handler == 0


def test_x86_64_bad_rt_sigreturn_frame_is_sigsegv():
    run = run64("""
bits 64
section .text
_start:
    mov rsp, 0x1000                 ; nothing mapped there: the frame cannot be read
    mov eax, 15
    syscall
    mov eax, 60
    xor edi, edi
    syscall
""")
    assert run.status == 139
    (sig,) = signals_of(run)
    assert sig.text == "--- SIGSEGV {si_signo=SIGSEGV, si_code=SI_KERNEL, si_addr=NULL} ---"


def test_x86_64_sigreturn_keeps_privileged_flags():
    """FIX_EFLAGS: the handler may change CF..OF, DF, TF, AC, RF in the saved eflags, not
    IF or IOPL."""
    run = run64(f"""
bits 64
section .data
act:    dq handler, 0x04000004, restorer, 0
section .text
_start:
    mov eax, 13
    mov edi, 11
    lea rsi, [rip + act]
    xor edx, edx
    mov r10d, 8
    syscall
    clc
    mov rax, qword [0x10]
resumed:
    pushfq
    pop rax
    test eax, 1                     ; CF came from the frame
    jz fail1
    test eax, 0x200                 ; IF did not (the frame said 0)
    jz fail2
    mov eax, 60
    xor edi, edi
    syscall
handler:
    mov qword [rdx + {UC_EFLAGS}], 1    ; CF only: IF and the reserved bit cleared
    lea rax, [rip + resumed]
    mov [rdx + {UC_RIP}], rax
    ret
restorer:
    mov eax, 15
    syscall
{FAILS64}""")
    assert run.status == 0


def test_x86_64_sigaltstack_and_sa_onstack():
    run = run64(f"""
bits 64
section .data
act:    dq handler, 0x0C000004, restorer, 0   ; SA_ONSTACK | SA_RESTORER | SA_SIGINFO
ss:     dq altstack                 ; ss_sp
        dd 0, 0                     ; ss_flags, (pad)
        dq 8192                     ; ss_size
section .bss
altstack: resb 8192
section .text
_start:
    mov eax, 131                    ; sigaltstack(&ss, NULL)
    lea rdi, [rip + ss]
    xor esi, esi
    syscall
    test rax, rax
    jnz fail1
    mov eax, 13
    mov edi, 10
    lea rsi, [rip + act]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 39
    syscall
    mov edi, eax
    mov esi, 10
    mov eax, 62
    mov r12, rsp
    syscall
    cmp rsp, r12                    ; back on the normal stack
    jne fail2
    mov eax, 60
    xor edi, edi
    syscall
handler:
    lea rax, [rip + altstack]       ; running on the alternate stack
    cmp rsp, rax
    jb fail3
    add rax, 8192
    cmp rsp, rax
    jae fail4
    lea rax, [rip + altstack]       ; uc_stack describes it
    cmp [rdx + 16], rax
    jne fail5
    cmp dword [rdx + 24], 0
    jne fail6
    cmp qword [rdx + 32], 8192
    jne fail7
    ret
restorer:
    mov eax, 15
    syscall
{FAILS64}""")
    assert run.status == 0


def test_sa_resethand_and_sa_nodefer():
    """SA_RESETHAND: the second SIGUSR1 gets the default action (death, 128 + 10);
    SA_NODEFER: the signal is not blocked while its handler runs."""
    run = run64(f"""
bits 64
section .data
act:    dq handler, 0xC4000004, restorer, 0   ; SA_RESETHAND|SA_NODEFER|SA_RESTORER|SA_SIGINFO
section .text
_start:
    mov eax, 13
    mov edi, 10
    lea rsi, [rip + act]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 39
    syscall
    mov ebx, eax
    mov edi, ebx
    mov esi, 10
    mov eax, 62
    syscall
    mov edi, ebx
    mov esi, 10
    mov eax, 62
    syscall
    mov eax, 60
    mov edi, 3
    syscall
handler:
    sub rsp, 8
    mov eax, 14
    xor edi, edi
    xor esi, esi
    mov rdx, rsp
    mov r10d, 8
    syscall
    cmp qword [rsp], 0              ; SA_NODEFER: SIGUSR1 not blocked
    jne fail1
    add rsp, 8
    ret
restorer:
    mov eax, 15
    syscall
{FAILS64}""")
    assert run.status == 138
    assert [s.action for s in signals_of(run)] == ["handler", "killed"]


# -- i386 ----------------------------------------------------------------------------------
# struct sigcontext_32: gs +0 fs +4 es +8 ds +12 edi +16 esi +20 ebp +24 esp +28 ebx +32
# edx +36 ecx +40 eax +44 trapno +48 err +52 eip +56 cs +60 eflags +64 sp_at_signal +68
# ss +72 fpstate +76 oldmask +80 cr2 +84. In ucontext_ia32 it sits at +20.
SC_EAX, SC_TRAPNO, SC_ERR, SC_EIP, SC_CS, SC_SS, SC_CR2 = 44, 48, 52, 56, 60, 72, 84

SIGSEGV_HANDLER_32 = f"""
bits 32
section .data
act:    dd handler, 0x04000004, restorer   ; SA_RESTORER | SA_SIGINFO
        dd 0, 0
section .text
_start:
    mov eax, 174                    ; rt_sigaction(SIGSEGV, &act, NULL, 8)
    mov ebx, 11
    mov ecx, act
    xor edx, edx
    mov esi, 8
    int 0x80
    test eax, eax
    jnz fail1
    mov esi, 0x1234
    mov edi, 0x5678
fault:
    mov eax, dword [0x10]
    jmp fail2
resumed:
    cmp esi, 0x1234
    jne fail3
    cmp edi, 0x5678
    jne fail4
    mov eax, 1
    xor ebx, ebx
    int 0x80

handler:                            ; regparm(3): eax = sig, edx = &info, ecx = &uc
    cmp eax, 11
    jne fail5
    cmp dword [esp + 4], 11         ; and on the stack: sig, pinfo, puc
    jne fail6
    cmp [esp + 8], edx
    jne fail7
    cmp [esp + 12], ecx
    jne fail8
    lea ebx, [esp + 16]             ; info at frame + 16, uc at frame + 144
    cmp ebx, edx
    jne fail9
    lea ebx, [esp + 144]
    cmp ebx, ecx
    jne fail10
    lea ebx, [esp + 4]              ; i386 ABI: (esp + 4) % 16 == 0 on entry
    test ebx, 15
    jnz fail11
    cmp dword [esp], restorer       ; pretcode
    jne fail12
    cmp dword [edx], 11             ; si_signo
    jne fail13
    cmp dword [edx + 8], 1          ; SEGV_MAPERR
    jne fail14
    cmp dword [edx + 12], 0x10      ; si_addr (the union starts at +12 on i386)
    jne fail15
    cmp dword [ecx], 1              ; uc_flags: UC_FP_XSTATE
    jne fail16
    cmp dword [ecx + 12], 0         ; uc_stack.ss_flags: 0, never configured
    jne fail17
    cmp dword [ecx + 20 + {SC_TRAPNO}], 14
    jne fail18
    cmp dword [ecx + 20 + {SC_ERR}], 4
    jne fail19
    cmp dword [ecx + 20 + {SC_CR2}], 0x10
    jne fail20
    cmp dword [ecx + 20 + {SC_EIP}], fault
    jne fail21
    cmp dword [ecx + 20 + {SC_CS}], 0x23
    jne fail22
    cmp dword [ecx + 20 + {SC_SS}], 0x2b
    jne fail23
    cmp dword [esp + 260], 0x0000adb8   ; retcode: mov eax, 173; int 0x80 (gdb's marker)
    jne fail24
    xor esi, esi                    ; clobbered: sigreturn restores it
    mov dword [ecx + 20 + {SC_EIP}], resumed
    ret
restorer:
    mov eax, 173                    ; rt_sigreturn
    int 0x80
{FAILS32}"""


def test_i386_sigsegv_handler_rt_frame():
    run = run32(SIGSEGV_HANDLER_32)
    assert run.status == 0
    (sig,) = signals_of(run)
    assert (sig.signo, sig.addr, sig.action) == (11, 0x10, "handler")
    assert [e.name for e in run.syscalls()] == ["rt_sigaction", "rt_sigreturn", "exit"]


def _kill_handler_32(flags: int, restorer: str, extra_data: str = "", setup: str = "",
                     handler_checks: str = "") -> str:
    return f"""
bits 32
section .data
act:    dd handler, {flags:#x}, {restorer}
        dd 0x400, 0                 ; sa_mask: SIGUSR2
hits:   dd 0
{extra_data}
section .text
_start:
    {setup}
    mov eax, 174                    ; rt_sigaction(SIGUSR1, &act, NULL, 8)
    mov ebx, 10
    mov ecx, act
    xor edx, edx
    mov esi, 8
    int 0x80
    test eax, eax
    jnz fail1
    mov eax, 20                     ; getpid
    int 0x80
    mov ebx, eax
    mov ecx, 10
    mov esi, 0x1111
    mov edi, 0x2222
    mov ebp, 0x3333
    mov eax, 37                     ; kill(getpid(), SIGUSR1)
    int 0x80
    test eax, eax                   ; kill's result, restored from the frame
    jnz fail2
    cmp dword [hits], 1
    jne fail3
    cmp esi, 0x1111
    jne fail4
    cmp edi, 0x2222
    jne fail4
    cmp ebp, 0x3333
    jne fail4
    cmp ecx, 10
    jne fail4
    sub esp, 8                      ; the mask is empty again
    mov eax, 175                    ; rt_sigprocmask(SIG_BLOCK, NULL, &old, 8)
    xor ebx, ebx
    xor ecx, ecx
    mov edx, esp
    mov esi, 8
    int 0x80
    cmp dword [esp], 0
    jne fail5
    mov eax, 1
    mov ebx, 42
    int 0x80

handler:
    {handler_checks}
    sub esp, 8
    mov eax, 175                    ; the mask while the handler runs
    xor ebx, ebx
    xor ecx, ecx
    mov edx, esp
    mov esi, 8
    int 0x80
    cmp dword [esp], 0x600
    jne fail6
    add esp, 8
    xor esi, esi
    xor edi, edi
    xor ebp, ebp
    xor ecx, ecx
    mov eax, 99
    inc dword [hits]
    ret
{FAILS32}"""


def test_i386_kill_rt_handler_with_restorer():
    checks = f"""
    cmp eax, 10
    jne fail10
    cmp dword [edx], 10             ; si_signo
    jne fail11
    cmp dword [edx + 8], 0          ; SI_USER
    jne fail12
    cmp dword [edx + 12], 4242      ; si_pid
    jne fail13
    cmp dword [edx + 16], {os.getuid()}  ; si_uid
    jne fail14
    cmp dword [ecx + 108], 0        ; uc_sigmask: the mask before
    jne fail15
    cmp dword [ecx + 20 + {SC_EAX}], 0   ; eax when the signal came: kill's result
    jne fail16
"""
    source = _kill_handler_32(0x04000004, "restorer", handler_checks=checks) + """
restorer:
    mov eax, 173
    int 0x80
"""
    run = run32(source)
    assert run.status == 42
    assert [e.name for e in run.syscalls()].count("rt_sigreturn") == 1


def test_i386_old_style_handler_with_sigreturn_restorer():
    """No SA_SIGINFO: the old struct sigframe; its restorer pops sig and calls sigreturn
    (119), which finds the frame at esp - 8."""
    checks = """
    cmp eax, 10                     ; eax = sig, edx = ecx = 0
    jne fail10
    test edx, edx
    jnz fail11
    test ecx, ecx
    jnz fail12
    cmp dword [esp + 4], 10
    jne fail13
    cmp dword [esp + 8 + 80], 0     ; sc.oldmask
    jne fail14
    cmp dword [esp + 720], 0        ; extramask
    jne fail15
    cmp dword [esp + 724], 0x77b858 ; retcode: pop eax; mov eax, 119; int 0x80
    jne fail16
"""
    source = _kill_handler_32(0x04000000, "restorer", handler_checks=checks) + """
restorer:
    pop eax
    mov eax, 119                    ; sigreturn
    int 0x80
"""
    run = run32(source)
    assert run.status == 42
    assert [e.name for e in run.syscalls()].count("sigreturn") == 1


# An executable alternate stack: without a vDSO the frame's retcode is the return path,
# and it runs only where the stack may be executed.
EXEC_ALTSTACK = """
    mov eax, 192                    ; mmap2(NULL, 16384, RWX, MAP_PRIVATE|MAP_ANONYMOUS)
    xor ebx, ebx
    mov ecx, 16384
    mov edx, 7
    mov esi, 0x22
    mov edi, -1
    xor ebp, ebp
    int 0x80
    mov [ss_sp], eax
    mov eax, 186                    ; sigaltstack(&ss, NULL)
    mov ebx, ss_sp
    xor ecx, ecx
    int 0x80
    test eax, eax
    jnz fail20
"""
ALTSTACK_DATA = """
ss_sp:  dd 0
        dd 0                        ; ss_flags
        dd 16384                    ; ss_size
"""
ON_ALTSTACK = """
    mov ebx, [ss_sp]
    cmp esp, ebx
    jb fail21
    add ebx, 16384
    cmp esp, ebx
    jae fail22
"""


@pytest.mark.parametrize("flags, name", [(0x08000000, "sigreturn"),
                                          (0x08000004, "rt_sigreturn")])
def test_i386_without_sa_restorer_returns_through_the_frames_retcode(flags, name):
    source = _kill_handler_32(flags, "0", ALTSTACK_DATA, EXEC_ALTSTACK, ON_ALTSTACK)
    run = run32(source)
    assert run.status == 42
    assert [e.name for e in run.syscalls()].count(name) == 1


def test_i386_retcode_on_a_non_executable_stack_faults():
    """The same handler on the ordinary (NX) stack, with no vDSO (vdso=0): returning into
    the retcode is an instruction fetch from a non-executable page, as on Linux."""
    run = run32(_kill_handler_32(0x0, "0"), vdso=False)
    assert run.status == 139
    first, second = signals_of(run)
    assert (first.name, first.action) == ("SIGUSR1", "handler")
    assert (second.name, second.code, second.action) == ("SIGSEGV", 2, "killed")  # ACCERR
    stack = next(v for v in run.system.mm.vmas if v.name == "[stack]")
    assert stack.start <= second.addr < stack.end


@pytest.mark.parametrize("flags, name", [(0x0, "sigreturn"), (0x4, "rt_sigreturn")])
def test_i386_handler_without_restorer_returns_through_the_vdso(flags, name):
    """No SA_RESTORER, a vDSO mapped: the frame's return address is the vDSO's
    __kernel_sigreturn (__kernel_rt_sigreturn with SA_SIGINFO), as Linux sets it, so the
    handler returns and the program goes on (glibc i386 installs its handlers so)."""
    run = run32(_kill_handler_32(flags, "0"))
    assert run.status == 42
    vdso = next(v for v in run.system.mm.vmas if v.name == "[vdso]")
    returns = [e for e in run.syscalls() if e.name == name]
    assert len(returns) == 1 and vdso.start <= returns[0].pc < vdso.end


def test_i386_rt_sigreturn_through_sysenter():
    """sigreturn from the sysenter hook: eip set there must be where execution goes on."""
    source = _kill_handler_32(0x04000004, "restorer") + """
restorer:
    mov eax, 173
    mov ebp, esp
    sysenter
"""
    run = run32(source)
    assert run.status == 42


def _system(source: str, bits: int):
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    tmp = tempfile.mkdtemp(prefix="syscall-lab-test-")
    path = os.path.join(tmp, "guest.s")
    with open(path, "w") as f:
        f.write(source)
    prog = load_program(path, bits)
    return System(prog.image, prog.path, [path], RunOptions(seed=1), symbols=prog.symbols)


OLD_STYLE_32 = _kill_handler_32(0x04000000, "restorer") + """
restorer:
    pop eax
    mov eax, 119
    int 0x80
"""


@pytest.mark.parametrize("source, bits, status", [
    (SIGSEGV_HANDLER_64, 64, 0), (KILL_HANDLER_64, 64, 42),
    (SIGSEGV_HANDLER_32, 32, 0), (OLD_STYLE_32, 32, 42)])
def test_untraced_runs_take_the_same_paths(source, bits, status):
    """No listener attached: the fast syscall and int 0x80 paths (no events, no trace)."""
    assert _system(source, bits).run() == status


@pytest.mark.parametrize("source, bits, name", [
    (KILL_HANDLER_64, 64, "rt_sigreturn"), (OLD_STYLE_32, 32, "sigreturn")])
def test_sigreturn_mask_reads_what_sigreturn_restores(source, bits, name):
    """For the trace's `rt_sigreturn({mask=[...]})`: read on entry, before the restore."""
    from kernel_model.signals import frame as sigframe
    from kernel_model.trace.events import SyscallEntered

    system = _system(source, bits)
    masks = []

    def listener(event):
        if isinstance(event, SyscallEntered) and event.name == name:
            masks.append(sigframe.sigreturn_mask(system.kernel, name == "rt_sigreturn"))
            masks.append(system.kernel.current.sigmask)

    system.kernel.attach(listener)
    assert system.run() == 42
    assert masks == [0, 0x600]  # the saved mask, and SIGUSR1|SIGUSR2 while in the handler


# The #PF error code in uc_mcontext.err: PROT 1, WRITE 2, USER 4, INSTR 0x10.
@pytest.mark.parametrize("access, si_code, err, addr", [
    ("mov qword [0x10], 1", 1, 6, "0x10"),                         # write, not present
    ("mov byte [rip + _start], 1", 2, 7, "_start"),                # write to read-only text
    ("mov eax, 0x10\n    call rax", 1, 0x14, "0x10"),              # fetch, not present
    ("mov rax, 0xffff800000000000\n    mov rax, [rax]", 1, 5,
     "0xffff800000000000"),                                        # kernel half: PROT too
])
def test_x86_64_page_fault_error_codes(access, si_code, err, addr):
    load = f"lea rax, [rip + {addr}]" if addr == "_start" else f"mov rax, {addr}"
    run = run64(f"""
bits 64
section .data
act:    dq handler, 0x04000004, restorer, 0
section .text
_start:
    mov eax, 13
    mov edi, 11
    lea rsi, [rip + act]
    xor edx, edx
    mov r10d, 8
    syscall
    {access}
    jmp fail1
resumed:
    mov eax, 60
    xor edi, edi
    syscall
handler:
    cmp dword [rsi + 8], {si_code}
    jne fail2
    {load}
    cmp [rsi + 16], rax
    jne fail3
    cmp [rdx + {UC_CR2}], rax
    jne fail4
    cmp qword [rdx + {UC_ERR}], {err}
    jne fail5
    cmp qword [rdx + {UC_TRAPNO}], 14
    jne fail6
    lea rax, [rip + resumed]
    mov [rdx + {UC_RIP}], rax
    ret
restorer:
    mov eax, 15
    syscall
{FAILS64}""")
    assert run.status == 0


def test_handler_with_an_unusable_stack_kills_with_sigsegv():
    """The frame cannot be written below rsp: force_sigsegv, and since the signal was
    SIGSEGV its handler is dropped first, so the process dies."""
    run = run64("""
bits 64
section .data
act:    dq handler, 0x04000004, handler, 0
section .text
_start:
    mov eax, 13
    mov edi, 11
    lea rsi, [rip + act]
    xor edx, edx
    mov r10d, 8
    syscall
    mov rsp, 0x20000                ; nothing mapped below
    mov rax, qword [0x10]
    mov eax, 60
    xor edi, edi
    syscall
handler:
    mov eax, 60
    mov edi, 5
    syscall
""")
    assert run.status == 139
    assert [(s.name, s.code, s.action) for s in signals_of(run)] == [
        ("SIGSEGV", 1, "handler"), ("SIGSEGV", 0x80, "killed")]


# -- blocked signals -----------------------------------------------------------------------
# Linux keeps a blocked signal pending until the mask lets it through (rt_sigreturn,
# rt_sigprocmask, sigsuspend).


def test_blocked_signal_from_kill_stays_pending():
    """kill() of a blocked signal does not act: SIGUSR1's default action would kill, but the
    signal waits (here until exit, so the process exits normally)."""
    run = run64(f"""
bits 64
section .data
set:    dq 0x200                    ; SIGUSR1
section .text
_start:
    mov eax, 14                     ; rt_sigprocmask(SIG_BLOCK, &set, NULL, 8)
    xor edi, edi
    lea rsi, [rip + set]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 39
    syscall
    mov edi, eax
    mov esi, 10
    mov eax, 62                     ; kill(getpid(), SIGUSR1): pending, not delivered
    syscall
    test rax, rax
    jnz fail1
    mov eax, 60
    mov edi, 7
    syscall
{FAILS64}""")
    assert run.status == 7
    assert signals_of(run) == []


def test_signal_sent_from_its_own_handler_waits_for_rt_sigreturn():
    """Inside its handler SIGUSR1 is blocked: a kill() there stays pending, and is
    delivered when rt_sigreturn puts the old mask back: the handler runs twice, never
    nested."""
    run = run64(f"""
bits 64
section .data
act:    dq handler, 0x04000004, restorer, 0
depth:  dq 0
hits:   dq 0
section .text
_start:
    mov eax, 13
    mov edi, 10
    lea rsi, [rip + act]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 39
    syscall
    mov r12d, eax
    mov edi, eax
    mov esi, 10
    mov eax, 62
    syscall
    cmp qword [rip + hits], 2
    jne fail1
    mov eax, 60
    mov edi, 42
    syscall
handler:
    inc qword [rip + depth]
    cmp qword [rip + depth], 1      ; never nested
    jne fail2
    inc qword [rip + hits]
    cmp qword [rip + hits], 1
    jne done
    mov edi, r12d                   ; the first time: SIGUSR1 again, while blocked
    mov esi, 10
    mov eax, 62
    syscall
    cmp qword [rip + hits], 1       ; not delivered yet
    jne fail3
done:
    dec qword [rip + depth]
    ret
restorer:
    mov eax, 15
    syscall
{FAILS64}""")
    assert run.status == 42
    assert [s.action for s in signals_of(run)] == ["handler", "handler"]


def test_signal_raised_under_a_full_block_runs_by_the_unblock():
    """musl's raise(): block every signal, tkill, put the mask back. The handler must have
    run when the unblocking rt_sigprocmask returns (whichever way delivery is modelled)."""
    run = run64(f"""
bits 64
section .data
act:    dq handler, 0x04000004, restorer, 0
all:    dq -1
old:    dq 0
hits:   dq 0
section .text
_start:
    mov eax, 13
    mov edi, 12                     ; SIGUSR2
    lea rsi, [rip + act]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 14                     ; rt_sigprocmask(SIG_BLOCK, &all, &old, 8)
    xor edi, edi
    lea rsi, [rip + all]
    lea rdx, [rip + old]
    mov r10d, 8
    syscall
    mov eax, 186                    ; gettid
    syscall
    mov edi, eax
    mov esi, 12
    mov eax, 200                    ; tkill(tid, SIGUSR2)
    syscall
    mov eax, 14                     ; rt_sigprocmask(SIG_SETMASK, &old, NULL, 8)
    mov edi, 2
    lea rsi, [rip + old]
    xor edx, edx
    mov r10d, 8
    syscall
    cmp qword [rip + hits], 1
    jne fail1
    mov eax, 60
    xor edi, edi
    syscall
handler:
    inc qword [rip + hits]
    ret
restorer:
    mov eax, 15
    syscall
{FAILS64}""")
    assert run.status == 0
