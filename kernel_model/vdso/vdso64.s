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
# lib/vdso/getrandom.c's checks and fallbacks, in its order:
#   - opaque_len == ~0UL, len == 0, flags == 0: the parameter query; fill struct
#     vgetrandom_opaque_params (state size, mmap prot and flags, reserved words zeroed), 0;
#   - a state straddling a page: -EFAULT;
#   - unknown flags, a wrong opaque_len, an RNG not ready (unless GRND_INSECURE), a state
#     already in use (a signal handler calling in): the getrandom syscall does the work;
#   - the state's generation differs from the data page's: a new 32-byte key into the
#     state, by the getrandom syscall (never into the caller's buffer);
#   - then the bytes are made here, with no syscall.
# The simplification (README, Simplifications): Linux expands the key with ChaCha20 and
# erases it as it goes (fast key erasure); ours mixes key and a counter with SplitMix64's
# finalizer, which is not a cryptographic generator.
        .align 16
        .globl __vdso_getrandom
        .type __vdso_getrandom, @function
__vdso_getrandom:
        .cfi_startproc
        cmp r8, -1
        jne .Lrandom_state
        test rsi, rsi
        jnz .Lrandom_state
        test edx, edx
        jnz .Lrandom_state
        mov dword ptr [rcx], VGR_STATE_SIZE     # params->size_of_opaque_state
        mov dword ptr [rcx + 4], 3              # mmap_prot = PROT_READ | PROT_WRITE
        mov dword ptr [rcx + 8], 0x28           # mmap_flags = MAP_DROPPABLE | MAP_ANONYMOUS
        xor eax, eax
        mov r9d, 12
.Lrandom_reserved:
        mov dword ptr [rcx + r9], eax           # params->reserved[0..12] = 0
        add r9d, 4
        cmp r9d, 64
        jb .Lrandom_reserved
        ret
.Lrandom_state:
        mov eax, ecx
        and eax, 0xfff
        add eax, VGR_STATE_SIZE
        cmp eax, 0x1000
        ja .Lrandom_efault                      # the state must not straddle a page
        test edx, -8
        jnz .Lrandom_syscall                    # flags beyond NONBLOCK|RANDOM|INSECURE
        cmp r8, VGR_STATE_SIZE
        jne .Lrandom_syscall
        lea r9, [rip + vvar_data]
        cmp byte ptr [r9 + VD_RNG_IS_READY], 0
        jne .Lrandom_ready
        test edx, 4                             # GRND_INSECURE
        jz .Lrandom_syscall
.Lrandom_ready:
        test rsi, rsi
        jz .Lrandom_none
        cmp byte ptr [rcx + VGR_IN_USE], 0
        jne .Lrandom_syscall
        mov byte ptr [rcx + VGR_IN_USE], 1
        mov rax, qword ptr [r9 + VD_RNG_GENERATION]
        cmp rax, qword ptr [rcx + VGR_GENERATION]
        je .Lrandom_keyed
        push rdi                                # a new key: getrandom(state->key, 32, 0)
        .cfi_adjust_cfa_offset 8
        push rsi
        .cfi_adjust_cfa_offset 8
        push rdx
        .cfi_adjust_cfa_offset 8
        push rcx
        .cfi_adjust_cfa_offset 8
        push rax
        .cfi_adjust_cfa_offset 8
        lea rdi, [rcx + VGR_KEY]
        mov esi, 32
        xor edx, edx
        mov eax, NR_getrandom
        syscall
        mov r10, rax
        pop rax
        .cfi_adjust_cfa_offset -8
        pop rcx
        .cfi_adjust_cfa_offset -8
        pop rdx
        .cfi_adjust_cfa_offset -8
        pop rsi
        .cfi_adjust_cfa_offset -8
        pop rdi
        .cfi_adjust_cfa_offset -8
        cmp r10, 32
        jne .Lrandom_release
        mov qword ptr [rcx + VGR_GENERATION], rax
        mov qword ptr [rcx + VGR_COUNTER], 0
.Lrandom_keyed:
        mov r8, rsi                             # bytes left
        mov r10, qword ptr [rcx + VGR_COUNTER]
.Lrandom_word:
        add r10, 1
        movabs rax, 0x9E3779B97F4A7C15
        imul rax, r10
        add rax, qword ptr [rcx + VGR_KEY]
        xor rax, qword ptr [rcx + VGR_KEY + 8]
        mov rdx, rax
        shr rdx, 30
        xor rax, rdx
        movabs r11, 0xBF58476D1CE4E5B9
        imul rax, r11
        add rax, qword ptr [rcx + VGR_KEY + 16]
        mov rdx, rax
        shr rdx, 27
        xor rax, rdx
        movabs r11, 0x94D049BB133111EB
        imul rax, r11
        xor rax, qword ptr [rcx + VGR_KEY + 24]
        mov rdx, rax
        shr rdx, 31
        xor rax, rdx
        cmp r8, 8
        jb .Lrandom_tail
        mov qword ptr [rdi], rax
        add rdi, 8
        sub r8, 8
        jnz .Lrandom_word
        jmp .Lrandom_done
.Lrandom_tail:
        mov byte ptr [rdi], al
        shr rax, 8
        inc rdi
        dec r8
        jnz .Lrandom_tail
.Lrandom_done:
        mov qword ptr [rcx + VGR_COUNTER], r10
        mov byte ptr [rcx + VGR_IN_USE], 0
        mov rax, rsi
        ret
.Lrandom_none:
        xor eax, eax
        ret
.Lrandom_efault:
        mov rax, -EFAULT
        ret
.Lrandom_release:
        mov byte ptr [rcx + VGR_IN_USE], 0      # no key: the syscall fills the buffer
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
