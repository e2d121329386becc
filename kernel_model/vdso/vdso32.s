# The i386 vDSO (linux-gate.so.1), by hand: arch/x86/entry/vdso/vdso32/system_call.S and
# sigreturn.S, and what vdso32/vclock_gettime.c compiles to with lib/vdso/gettimeofday.c.
#
# Position independent without rip-relative addressing: vdso_vvar_esi finds its own address
# with call/pop and adds the (negative) distance to the data page below the image.
# Calling convention: cdecl (arguments on the stack, result in eax, or edx:eax; ebx, esi, edi,
# ebp preserved). Fallbacks enter the kernel through __kernel_vsyscall, as the kernel's
# 32-bit fallbacks do (arch/x86/include/asm/vdso/gettimeofday.h): the syscall's pc is the
# sysenter inside the vDSO.

.intel_syntax noprefix
.text

# ---------------------------------------------------------------------------------------------
# __kernel_vsyscall: the Intel entry sequence (AMD CPUs get `mov ebp, ecx; syscall` patched
# in). sysenter saves nothing: the kernel finds the user stack in ebp, reads arg 6 at [ebp],
# and returns to int80_landing_pad with sysexit. If sysenter is unavailable, the int 0x80
# right after it is the path.
        .align 16
        .globl __kernel_vsyscall
        .type __kernel_vsyscall, @function
__kernel_vsyscall:
        .cfi_startproc
        push ecx
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset ecx, 0
        push edx
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset edx, 0
        push ebp
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset ebp, 0
        mov ebp, esp
        sysenter
        int 0x80
int80_landing_pad:
        pop ebp
        .cfi_restore ebp
        .cfi_adjust_cfa_offset -4
        pop edx
        .cfi_restore edx
        .cfi_adjust_cfa_offset -4
        pop ecx
        .cfi_restore ecx
        .cfi_adjust_cfa_offset -4
        ret
        .cfi_endproc
        .size __kernel_vsyscall, . - __kernel_vsyscall

# ---------------------------------------------------------------------------------------------
# The signal return trampolines (sigreturn.S). A handler returns here: for the old-style
# frame the return address is popped first (the frame's pretcode slot is gone, sc follows).
# (The kernel describes these with hand-made "zRS" signal-frame CFI; we emit no FDE for them
# and debuggers recognise the byte sequences instead.)
        .align 16
        .globl __kernel_sigreturn
        .type __kernel_sigreturn, @function
__kernel_sigreturn:
        pop eax
        mov eax, NR_sigreturn
        int 0x80
vdso32_sigreturn_landing_pad:
        nop
        .size __kernel_sigreturn, . - __kernel_sigreturn

        .align 16
        .globl __kernel_rt_sigreturn
        .type __kernel_rt_sigreturn, @function
__kernel_rt_sigreturn:
        mov eax, NR_rt_sigreturn
        int 0x80
vdso32_rt_sigreturn_landing_pad:
        nop
        .size __kernel_rt_sigreturn, . - __kernel_rt_sigreturn

# ---------------------------------------------------------------------------------------------
# vdso_vvar_esi (internal): esi = address of the data page (struct vdso_time_data), found
# from our own address: call/pop reads eip, then add the link-time distance.
        .align 16
        .type vdso_vvar_esi, @function
vdso_vvar_esi:
        .cfi_startproc
        call .Lvvar_pc
.Lvvar_pc:
        .cfi_adjust_cfa_offset 4
        pop esi
        .cfi_adjust_cfa_offset -4
        add esi, vvar_data - .Lvvar_pc
        ret
        .cfi_endproc
        .size vdso_vvar_esi, . - vdso_vvar_esi

# ---------------------------------------------------------------------------------------------
# vdso_do_hres (internal): the high-resolution read with 32-bit registers.
#   in:  esi = struct vdso_clock *, eax = clock id
#   out: CF clear: edx:eax = seconds (64 bits), ecx = nanoseconds
#        CF set:   clock_mode is VDSO_CLOCKMODE_NONE, fall back to the syscall
#   clobbers eax, ebx, ecx, edx, edi; keeps esi, ebp
# The product delta * mult is 96 bits (3 registers), the base is added with carries, the shift
# is done with two shrd; ns / 1e9 is a 64/32 division in two 32-bit `div` steps (the high
# half first, its remainder feeding the low one), exact for any delta.
        .align 16
        .type vdso_do_hres, @function
vdso_do_hres:
        .cfi_startproc
        shl eax, 4
        lea edi, [esi + eax + VC_BASETIME]      # vdso_ts = &vc->basetime[clk]
        sub esp, 20                             # [esp] seq, [esp+4] ns, [esp+12] sec
        .cfi_adjust_cfa_offset 20
.Lhres_begin:
        mov eax, dword ptr [esi + VC_SEQ]
        test eax, 1
        jnz .Lhres_spin
        mov dword ptr [esp], eax
        cmp dword ptr [esi + VC_CLOCK_MODE], VDSO_CLOCKMODE_NONE
        je .Lhres_none
        lfence
        rdtsc                                   # cycles = edx:eax
        sub eax, dword ptr [esi + VC_CYCLE_LAST]
        sbb edx, dword ptr [esi + VC_CYCLE_LAST + 4]
        and eax, dword ptr [esi + VC_MASK]
        and edx, dword ptr [esi + VC_MASK + 4]  # delta = edx:eax
        mov ecx, edx
        mul dword ptr [esi + VC_MULT]           # delta.lo * mult
        mov ebx, eax                            # product bits 0-31
        mov dword ptr [esp + 4], edx
        mov eax, ecx
        mul dword ptr [esi + VC_MULT]           # delta.hi * mult
        add eax, dword ptr [esp + 4]            # product bits 32-63
        adc edx, 0                              # product bits 64-95
        add ebx, dword ptr [edi + 8]            # + vdso_ts->nsec (stored << shift)
        adc eax, dword ptr [edi + 12]
        adc edx, 0
        mov ecx, dword ptr [esi + VC_SHIFT]
        shrd ebx, eax, cl                       # ns = edx:eax:ebx >> shift, 64 bits kept
        shrd eax, edx, cl
        mov dword ptr [esp + 4], ebx
        mov dword ptr [esp + 8], eax
        mov eax, dword ptr [edi]                # sec = vdso_ts->sec
        mov dword ptr [esp + 12], eax
        mov eax, dword ptr [edi + 4]
        mov dword ptr [esp + 16], eax
        mov eax, dword ptr [esi + VC_SEQ]       # vdso_read_retry(vc, seq)
        cmp eax, dword ptr [esp]
        jne .Lhres_begin
        mov ecx, NSEC_PER_SEC
        xor edx, edx
        mov eax, dword ptr [esp + 8]
        div ecx                                 # ns.hi / 1e9: eax = q.hi, edx = r
        mov ebx, eax
        mov eax, dword ptr [esp + 4]
        div ecx                                 # (r:ns.lo) / 1e9: eax = q.lo, edx = nsec
        mov ecx, edx
        add eax, dword ptr [esp + 12]           # sec += ns / NSEC_PER_SEC
        adc ebx, dword ptr [esp + 16]
        mov edx, ebx
        add esp, 20
        .cfi_remember_state
        .cfi_adjust_cfa_offset -20
        clc
        ret
        .cfi_restore_state
.Lhres_spin:
        pause
        jmp .Lhres_begin
.Lhres_none:
        add esp, 20
        .cfi_adjust_cfa_offset -20
        stc
        ret
        .cfi_endproc
        .size vdso_do_hres, . - vdso_do_hres

# ---------------------------------------------------------------------------------------------
# vdso_do_coarse (internal): in esi = struct vdso_clock *, eax = clock id;
#   out edx:eax = seconds, ecx = nanoseconds; clobbers ebx, edi
        .align 16
        .type vdso_do_coarse, @function
vdso_do_coarse:
        .cfi_startproc
        shl eax, 4
        lea edi, [esi + eax + VC_BASETIME]
.Lcoarse_begin:
        mov ebx, dword ptr [esi + VC_SEQ]
        test ebx, 1
        jnz .Lcoarse_spin
        mov eax, dword ptr [edi]
        mov edx, dword ptr [edi + 4]
        mov ecx, dword ptr [edi + 8]
        cmp ebx, dword ptr [esi + VC_SEQ]
        jne .Lcoarse_begin
        clc
        ret
.Lcoarse_spin:
        pause
        jmp .Lcoarse_begin
        .cfi_endproc
        .size vdso_do_coarse, . - vdso_do_coarse

# ---------------------------------------------------------------------------------------------
# vdso_clock_read (internal): __cvdso_clock_gettime_common.
#   in:  esi = struct vdso_time_data *, eax = clock id
#   out: CF clear: edx:eax = seconds, ecx = nanoseconds; CF set: use the syscall
#   clobbers ebx, ecx, edx, edi, esi
        .align 16
        .type vdso_clock_read, @function
vdso_clock_read:
        .cfi_startproc
        cmp eax, CLOCK_TAI
        ja .Lread_fallback                      # unsigned: also the negative ids
        mov ecx, eax
        mov edx, 1
        shl edx, cl                             # msk = BIT(clock)
        test edx, VDSO_HRES
        jnz vdso_do_hres
        test edx, VDSO_COARSE
        jnz vdso_do_coarse
        test edx, VDSO_RAW
        jz .Lread_fallback
        add esi, VC_SIZE                        # &vd->clock_data[CS_RAW]
        jmp vdso_do_hres
.Lread_fallback:
        stc
        ret
        .cfi_endproc
        .size vdso_clock_read, . - vdso_clock_read

# ---------------------------------------------------------------------------------------------
# int __vdso_clock_gettime(clockid_t clock, struct old_timespec32 *ts)
# tv_sec is truncated to 32 bits: the year-2038 limit that clock_gettime64 removes.
        .align 16
        .globl __vdso_clock_gettime
        .type __vdso_clock_gettime, @function
__vdso_clock_gettime:
        .cfi_startproc
        push ebx
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset ebx, 0
        push esi
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset esi, 0
        push edi
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset edi, 0
        call vdso_vvar_esi
        mov eax, dword ptr [esp + 16]           # clock
        call vdso_clock_read
        jc .Lcgt32_fallback
        mov ebx, dword ptr [esp + 20]           # ts
        mov dword ptr [ebx], eax
        mov dword ptr [ebx + 4], ecx
        xor eax, eax
.Lcgt32_out:
        pop edi
        .cfi_remember_state
        .cfi_adjust_cfa_offset -4
        .cfi_restore edi
        pop esi
        .cfi_adjust_cfa_offset -4
        .cfi_restore esi
        pop ebx
        .cfi_adjust_cfa_offset -4
        .cfi_restore ebx
        ret
        .cfi_restore_state
.Lcgt32_fallback:
        mov ebx, dword ptr [esp + 16]           # clock_gettime32_fallback(clock, ts)
        mov ecx, dword ptr [esp + 20]
        mov eax, NR_clock_gettime
        call __kernel_vsyscall
        jmp .Lcgt32_out
        .cfi_endproc
        .size __vdso_clock_gettime, . - __vdso_clock_gettime

# ---------------------------------------------------------------------------------------------
# int __vdso_clock_gettime64(clockid_t clock, struct __kernel_timespec *ts)
        .align 16
        .globl __vdso_clock_gettime64
        .type __vdso_clock_gettime64, @function
__vdso_clock_gettime64:
        .cfi_startproc
        push ebx
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset ebx, 0
        push esi
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset esi, 0
        push edi
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset edi, 0
        call vdso_vvar_esi
        mov eax, dword ptr [esp + 16]
        call vdso_clock_read
        jc .Lcgt64_fallback
        mov ebx, dword ptr [esp + 20]
        mov dword ptr [ebx], eax
        mov dword ptr [ebx + 4], edx
        mov dword ptr [ebx + 8], ecx
        mov dword ptr [ebx + 12], 0
        xor eax, eax
.Lcgt64_out:
        pop edi
        .cfi_remember_state
        .cfi_adjust_cfa_offset -4
        .cfi_restore edi
        pop esi
        .cfi_adjust_cfa_offset -4
        .cfi_restore esi
        pop ebx
        .cfi_adjust_cfa_offset -4
        .cfi_restore ebx
        ret
        .cfi_restore_state
.Lcgt64_fallback:
        mov ebx, dword ptr [esp + 16]           # clock_gettime_fallback(clock, ts)
        mov ecx, dword ptr [esp + 20]
        mov eax, NR_clock_gettime64
        call __kernel_vsyscall
        jmp .Lcgt64_out
        .cfi_endproc
        .size __vdso_clock_gettime64, . - __vdso_clock_gettime64

# ---------------------------------------------------------------------------------------------
# int __vdso_gettimeofday(struct __kernel_old_timeval *tv, struct timezone *tz)
        .align 16
        .globl __vdso_gettimeofday
        .type __vdso_gettimeofday, @function
__vdso_gettimeofday:
        .cfi_startproc
        push ebx
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset ebx, 0
        push esi
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset esi, 0
        push edi
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset edi, 0
        call vdso_vvar_esi
        cmp dword ptr [esp + 16], 0             # tv
        je .Lgtod_tz
        xor eax, eax                            # CLOCK_REALTIME
        call vdso_do_hres
        jc .Lgtod_fallback
        mov ebx, dword ptr [esp + 16]
        mov dword ptr [ebx], eax                # tv_sec
        mov eax, ecx
        xor edx, edx
        mov ecx, 1000
        div ecx
        mov dword ptr [ebx + 4], eax            # tv_usec = nsec / 1000
.Lgtod_tz:
        mov ebx, dword ptr [esp + 20]           # tz
        test ebx, ebx
        jz .Lgtod_ok
        mov eax, dword ptr [esi + VD_TZ_MINUTESWEST]
        mov dword ptr [ebx], eax
        mov eax, dword ptr [esi + VD_TZ_DSTTIME]
        mov dword ptr [ebx + 4], eax
.Lgtod_ok:
        xor eax, eax
.Lgtod_out:
        pop edi
        .cfi_remember_state
        .cfi_adjust_cfa_offset -4
        .cfi_restore edi
        pop esi
        .cfi_adjust_cfa_offset -4
        .cfi_restore esi
        pop ebx
        .cfi_adjust_cfa_offset -4
        .cfi_restore ebx
        ret
        .cfi_restore_state
.Lgtod_fallback:
        mov ebx, dword ptr [esp + 16]
        mov ecx, dword ptr [esp + 20]
        mov eax, NR_gettimeofday
        call __kernel_vsyscall
        jmp .Lgtod_out
        .cfi_endproc
        .size __vdso_gettimeofday, . - __vdso_gettimeofday

# ---------------------------------------------------------------------------------------------
# __kernel_old_time_t __vdso_time(__kernel_old_time_t *t): 32-bit seconds, no seqlock.
        .align 16
        .globl __vdso_time
        .type __vdso_time, @function
__vdso_time:
        .cfi_startproc
        push esi
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset esi, 0
        call vdso_vvar_esi
        mov eax, dword ptr [esi + VC_BASETIME + CLOCK_REALTIME * VC_TS_SIZE]
        mov edx, dword ptr [esp + 8]
        test edx, edx
        jz .Ltime_done
        mov dword ptr [edx], eax
.Ltime_done:
        pop esi
        .cfi_adjust_cfa_offset -4
        .cfi_restore esi
        ret
        .cfi_endproc
        .size __vdso_time, . - __vdso_time

# ---------------------------------------------------------------------------------------------
# int __vdso_clock_getres(clockid_t clock, struct old_timespec32 *res)
        .align 16
        .globl __vdso_clock_getres
        .type __vdso_clock_getres, @function
__vdso_clock_getres:
        .cfi_startproc
        push ebx
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset ebx, 0
        push esi
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset esi, 0
        call vdso_vvar_esi
        mov eax, dword ptr [esp + 12]           # clock
        cmp eax, CLOCK_TAI
        ja .Lres_fallback
        mov ecx, eax
        mov edx, 1
        shl edx, cl
        test edx, VDSO_HRES | VDSO_RAW
        jnz .Lres_hres
        test edx, VDSO_COARSE
        jz .Lres_fallback
        mov eax, LOW_RES_NSEC
        jmp .Lres_store
.Lres_hres:
        mov eax, dword ptr [esi + VD_HRTIMER_RES]
.Lres_store:
        mov edx, dword ptr [esp + 16]           # res
        test edx, edx
        jz .Lres_ok
        mov dword ptr [edx], 0
        mov dword ptr [edx + 4], eax
.Lres_ok:
        xor eax, eax
.Lres_out:
        pop esi
        .cfi_remember_state
        .cfi_adjust_cfa_offset -4
        .cfi_restore esi
        pop ebx
        .cfi_adjust_cfa_offset -4
        .cfi_restore ebx
        ret
        .cfi_restore_state
.Lres_fallback:
        mov ebx, dword ptr [esp + 12]           # clock_getres32_fallback(clock, res)
        mov ecx, dword ptr [esp + 16]
        mov eax, NR_clock_getres
        call __kernel_vsyscall
        jmp .Lres_out
        .cfi_endproc
        .size __vdso_clock_getres, . - __vdso_clock_getres

# ---------------------------------------------------------------------------------------------
# long __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused)
        .align 16
        .globl __vdso_getcpu
        .type __vdso_getcpu, @function
__vdso_getcpu:
        .cfi_startproc
        push esi
        .cfi_adjust_cfa_offset 4
        .cfi_rel_offset esi, 0
        call vdso_vvar_esi
        mov edx, dword ptr [esp + 8]
        test edx, edx
        jz .Lcpu_node
        mov eax, dword ptr [esi + VD_CPU]
        mov dword ptr [edx], eax
.Lcpu_node:
        mov edx, dword ptr [esp + 12]
        test edx, edx
        jz .Lcpu_done
        mov eax, dword ptr [esi + VD_NODE]
        mov dword ptr [edx], eax
.Lcpu_done:
        xor eax, eax
        pop esi
        .cfi_adjust_cfa_offset -4
        .cfi_restore esi
        ret
        .cfi_endproc
        .size __vdso_getcpu, . - __vdso_getcpu
