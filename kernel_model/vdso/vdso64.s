# The x86-64 vDSO, by hand: what arch/x86/entry/vdso/vclock_gettime.c, vgetcpu.c and
# vgetrandom.c compile to with lib/vdso/gettimeofday.c (do_hres, do_coarse).
#
# Position independent: the image is mapped at a random base and the data page (struct
# vdso_time_data, kernel_model/vdso/vvar.py) sits VVAR_SIZE bytes below it, so it is reached
# rip-relative: `lea r8, [rip + vvar_data]`, where vvar_data is a (negative) image offset.
# Offsets VC_*, VD_* and the other constants come from vvar.py; NR_* from the syscall table.
#
# Calling convention: System V (arguments in rdi, rsi, rdx, rcx, r8; result in rax; rax, rcx,
# rdx, rsi, rdi, r8-r11 may be clobbered). Fallbacks are real `syscall`s, made from here.

.intel_syntax noprefix
.text

# ---------------------------------------------------------------------------------------------
# vdso_do_hres (internal): the high-resolution read.
#   in:  r8 = struct vdso_clock *, r9d = clock id (indexes basetime[])
#   out: CF clear: rax = seconds, rdx = nanoseconds
#        CF set:   clock_mode is VDSO_CLOCKMODE_NONE, the caller falls back to the syscall
#   clobbers rax, rcx, rdx, r9, r10, r11; keeps rdi, rsi, r8
        .align 16
        .type vdso_do_hres, @function
vdso_do_hres:
        .cfi_startproc
        shl r9, 4
        lea r9, [r8 + r9 + VC_BASETIME]         # vdso_ts = &vc->basetime[clk]
.Lhres_begin:
        mov r10d, dword ptr [r8 + VC_SEQ]       # seq = vdso_read_begin(vc) ...
        test r10d, 1
        jnz .Lhres_spin                         # ... which spins while seq is odd
        cmp dword ptr [r8 + VC_CLOCK_MODE], VDSO_CLOCKMODE_NONE
        je .Lhres_none
        lfence                                  # rdtsc_ordered()
        rdtsc                                   # cycles = edx:eax
        shl rdx, 32
        or rax, rdx
        sub rax, qword ptr [r8 + VC_CYCLE_LAST]
        and rax, qword ptr [r8 + VC_MASK]       # delta = (cycles - cycle_last) & mask
        mov ecx, dword ptr [r8 + VC_MULT]
        mul rcx                                 # rdx:rax = delta * mult, 128 bits: exact
        add rax, qword ptr [r9 + 8]             #   + vdso_ts->nsec (stored << shift)
        adc rdx, 0
        mov ecx, dword ptr [r8 + VC_SHIFT]
        shrd rax, rdx, cl                       # ns = (...) >> shift
        mov r11, qword ptr [r9]                 # sec = vdso_ts->sec
        cmp r10d, dword ptr [r8 + VC_SEQ]       # vdso_read_retry(vc, seq)
        jne .Lhres_begin
        xor edx, edx
        mov ecx, NSEC_PER_SEC
        div rcx                                 # rax = ns / 1e9, rdx = ns % 1e9
        add rax, r11                            # tv_sec = sec + ns / NSEC_PER_SEC
        clc
        ret
.Lhres_spin:
        pause                                   # cpu_relax()
        jmp .Lhres_begin
.Lhres_none:
        stc
        ret
        .cfi_endproc
        .size vdso_do_hres, . - vdso_do_hres

# ---------------------------------------------------------------------------------------------
# vdso_do_coarse (internal): the tick-granular read, the base only.
#   in:  r8 = struct vdso_clock *, r9d = clock id;  out: rax = seconds, rdx = nanoseconds
        .align 16
        .type vdso_do_coarse, @function
vdso_do_coarse:
        .cfi_startproc
        shl r9, 4
        lea r9, [r8 + r9 + VC_BASETIME]
.Lcoarse_begin:
        mov r10d, dword ptr [r8 + VC_SEQ]
        test r10d, 1
        jnz .Lcoarse_spin
        mov rax, qword ptr [r9]
        mov rdx, qword ptr [r9 + 8]
        cmp r10d, dword ptr [r8 + VC_SEQ]
        jne .Lcoarse_begin
        ret
.Lcoarse_spin:
        pause
        jmp .Lcoarse_begin
        .cfi_endproc
        .size vdso_do_coarse, . - vdso_do_coarse

# ---------------------------------------------------------------------------------------------
# int __vdso_clock_gettime(clockid_t clock, struct __kernel_timespec *ts)
        .align 16
        .globl __vdso_clock_gettime
        .type __vdso_clock_gettime, @function
__vdso_clock_gettime:
        .cfi_startproc
        lea r8, [rip + vvar_data]               # &vd->clock_data[CS_HRES_COARSE]
        cmp edi, CLOCK_TAI
        ja .Lcgt_fallback                       # unsigned: also the negative (CPU, fd) ids
        mov r9d, edi
        mov eax, 1
        mov ecx, edi
        shl eax, cl                             # msk = BIT(clock)
        test eax, VDSO_HRES
        jnz .Lcgt_hres
        test eax, VDSO_COARSE
        jnz .Lcgt_coarse
        test eax, VDSO_RAW
        jz .Lcgt_fallback
        add r8, VC_SIZE                         # &vd->clock_data[CS_RAW]
.Lcgt_hres:
        call vdso_do_hres
        jc .Lcgt_fallback
.Lcgt_store:
        mov qword ptr [rsi], rax
        mov qword ptr [rsi + 8], rdx
        xor eax, eax
        ret
.Lcgt_coarse:
        call vdso_do_coarse
        jmp .Lcgt_store
.Lcgt_fallback:
        mov eax, NR_clock_gettime               # clock_gettime_fallback()
        syscall
        ret
        .cfi_endproc
        .size __vdso_clock_gettime, . - __vdso_clock_gettime

# ---------------------------------------------------------------------------------------------
# int __vdso_gettimeofday(struct __kernel_old_timeval *tv, struct timezone *tz)
        .align 16
        .globl __vdso_gettimeofday
        .type __vdso_gettimeofday, @function
__vdso_gettimeofday:
        .cfi_startproc
        lea r8, [rip + vvar_data]
        test rdi, rdi
        jz .Lgtod_tz
        xor r9d, r9d                            # CLOCK_REALTIME
        call vdso_do_hres
        jc .Lgtod_fallback
        mov qword ptr [rdi], rax                # tv_sec
        mov eax, edx
        xor edx, edx
        mov ecx, 1000
        div ecx                                 # (u32)ts.tv_nsec / NSEC_PER_USEC
        mov qword ptr [rdi + 8], rax            # tv_usec
.Lgtod_tz:
        test rsi, rsi
        jz .Lgtod_done
        mov eax, dword ptr [r8 + VD_TZ_MINUTESWEST]
        mov dword ptr [rsi], eax
        mov eax, dword ptr [r8 + VD_TZ_DSTTIME]
        mov dword ptr [rsi + 4], eax
.Lgtod_done:
        xor eax, eax
        ret
.Lgtod_fallback:
        mov eax, NR_gettimeofday
        syscall
        ret
        .cfi_endproc
        .size __vdso_gettimeofday, . - __vdso_gettimeofday

# ---------------------------------------------------------------------------------------------
# __kernel_old_time_t __vdso_time(__kernel_old_time_t *t): the base seconds of
# CLOCK_REALTIME, one plain read (no seqlock, as __cvdso_time_data does).
        .align 16
        .globl __vdso_time
        .type __vdso_time, @function
__vdso_time:
        .cfi_startproc
        lea r8, [rip + vvar_data]
        mov rax, qword ptr [r8 + VC_BASETIME + CLOCK_REALTIME * VC_TS_SIZE]
        test rdi, rdi
        jz .Ltime_done
        mov qword ptr [rdi], rax
.Ltime_done:
        ret
        .cfi_endproc
        .size __vdso_time, . - __vdso_time

# ---------------------------------------------------------------------------------------------
# int __vdso_clock_getres(clockid_t clock, struct __kernel_timespec *res)
        .align 16
        .globl __vdso_clock_getres
        .type __vdso_clock_getres, @function
__vdso_clock_getres:
        .cfi_startproc
        lea r8, [rip + vvar_data]
        cmp edi, CLOCK_TAI
        ja .Lres_fallback
        mov eax, 1
        mov ecx, edi
        shl eax, cl
        test eax, VDSO_HRES | VDSO_RAW
        jnz .Lres_hres
        test eax, VDSO_COARSE
        jz .Lres_fallback
        mov eax, LOW_RES_NSEC
        jmp .Lres_store
.Lres_hres:
        mov eax, dword ptr [r8 + VD_HRTIMER_RES]
.Lres_store:
        test rsi, rsi
        jz .Lres_done
        mov qword ptr [rsi], 0
        mov qword ptr [rsi + 8], rax
.Lres_done:
        xor eax, eax
        ret
.Lres_fallback:
        mov eax, NR_clock_getres
        syscall
        ret
        .cfi_endproc
        .size __vdso_clock_getres, . - __vdso_clock_getres

# ---------------------------------------------------------------------------------------------
# long __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused)
        .align 16
        .globl __vdso_getcpu
        .type __vdso_getcpu, @function
__vdso_getcpu:
        .cfi_startproc
        lea r8, [rip + vvar_data]
        test rdi, rdi
        jz .Lcpu_node
        mov eax, dword ptr [r8 + VD_CPU]
        mov dword ptr [rdi], eax
.Lcpu_node:
        test rsi, rsi
        jz .Lcpu_done
        mov eax, dword ptr [r8 + VD_NODE]
        mov dword ptr [rsi], eax
.Lcpu_done:
        xor eax, eax
        ret
        .cfi_endproc
        .size __vdso_getcpu, . - __vdso_getcpu

# ---------------------------------------------------------------------------------------------
# ssize_t __vdso_getrandom(void *buffer, size_t len, unsigned int flags,
#                          void *opaque_state, size_t opaque_len)
# The kernel's version runs ChaCha20 over a per-thread state the libc allocates. Ours keeps
# no state: the libc's parameter query (NULL, 0, 0, &params, ~0UL) answers -ENOSYS, so the
# libc never hands out states and keeps calling getrandom(2); any other call performs
# getrandom(buffer, len, flags) from here.
        .align 16
        .globl __vdso_getrandom
        .type __vdso_getrandom, @function
__vdso_getrandom:
        .cfi_startproc
        cmp r8, -1
        jne .Lrandom_syscall
        test rdi, rdi
        jnz .Lrandom_syscall
        test rsi, rsi
        jnz .Lrandom_syscall
        test edx, edx
        jnz .Lrandom_syscall
        mov rax, -ENOSYS
        ret
.Lrandom_syscall:
        mov eax, NR_getrandom
        syscall
        ret
        .cfi_endproc
        .size __vdso_getrandom, . - __vdso_getrandom

# The unprefixed names, as vclock_gettime.c declares them: weak aliases.
        .weak clock_gettime
        .set clock_gettime, __vdso_clock_gettime
        .weak gettimeofday
        .set gettimeofday, __vdso_gettimeofday
        .weak time
        .set time, __vdso_time
        .weak clock_getres
        .set clock_getres, __vdso_clock_getres
        .weak getcpu
        .set getcpu, __vdso_getcpu
        .weak getrandom
        .set getrandom, __vdso_getrandom
