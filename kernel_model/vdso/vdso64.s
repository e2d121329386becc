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
# HRES_READ none: the high-resolution read (lib/vdso/gettimeofday.c's do_hres), written out
# where it is used, as Linux inlines do_hres (__always_inline): under the emulator a
# call/ret pair is the dearest thing on this path (each ret a translated-block lookup).
#   in:  r8 = struct vdso_clock *, r9d = clock id (indexes basetime[])
#   out: rax = seconds, rdx = nanoseconds; a jump to `none` when clock_mode is
#        VDSO_CLOCKMODE_NONE (the caller falls back to the syscall)
#   clobbers rax, rcx, rdx, r9, r10, r11; keeps rdi, rsi, r8
.macro HRES_READ none
        shl r9, 4
        lea r9, [r8 + r9 + VC_BASETIME]         # vdso_ts = &vc->basetime[clk]
.Lhres_begin\@:
        mov r10d, dword ptr [r8 + VC_SEQ]       # seq = vdso_read_begin(vc) ...
        test r10d, 1
        jz .Lhres_even\@
        pause                                   # ... which spins while seq is odd
        jmp .Lhres_begin\@
.Lhres_even\@:
        cmp dword ptr [r8 + VC_CLOCK_MODE], VDSO_CLOCKMODE_NONE
        je \none
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
        jne .Lhres_begin\@
        xor edx, edx
        mov ecx, NSEC_PER_SEC
        div rcx                                 # rax = ns / 1e9, rdx = ns % 1e9
        add rax, r11                            # tv_sec = sec + ns / NSEC_PER_SEC
.endm

# ---------------------------------------------------------------------------------------------
# vdso_do_hres (internal): HRES_READ as a function, for the clocks clock_gettime reads.
#   out: CF clear: rax = seconds, rdx = nanoseconds; CF set: fall back to the syscall
        .align 16
        .type vdso_do_hres, @function
vdso_do_hres:
        .cfi_startproc
        HRES_READ .Lhres_none
        clc
        ret
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
        HRES_READ .Lgtod_fallback
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
# vgetrandom_chacha_block (internal): one ChaCha20 block (RFC 8439's function; the nonce
# words are 0 and words 12-13 a 64-bit block counter, as lib/vdso/getrandom.c uses it).
#   in:  rcx = the state (its 32-byte key at VGR_KEY), r10 = block counter, r9 = 64 bytes out
#   clobbers rax, rdx, r11; keeps everything else. The stack copies are wiped after use.
# A double round is the eight quarter rounds of .Lchacha_quarters, in order: the columns
# (0,4,8,12)..(3,7,11,15), then the diagonals (0,5,10,15)..(3,4,9,14).
        .align 16
        .type vgetrandom_chacha_block, @function
vgetrandom_chacha_block:
        .cfi_startproc
        push rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbx, 0
        push r8
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r8, 0
        push rsi
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rsi, 0
        push rdi
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rdi, 0
        sub rsp, 128                            # [rsp]: working words; [rsp + 64]: input
        .cfi_adjust_cfa_offset 128
        mov dword ptr [rsp + 64], 0x61707865    # "expand 32-byte k"
        mov dword ptr [rsp + 68], 0x3320646e
        mov dword ptr [rsp + 72], 0x79622d32
        mov dword ptr [rsp + 76], 0x6b206574
        xor edx, edx
.Lchacha_key:                                   # words 4-11: the key
        mov rax, qword ptr [rcx + rdx + VGR_KEY]
        mov qword ptr [rsp + rdx + 80], rax
        add edx, 8
        cmp edx, 32
        jb .Lchacha_key
        mov qword ptr [rsp + 112], r10          # the block counter (words 12, 13)
        mov qword ptr [rsp + 120], 0            # the nonce (words 14, 15)
        xor edx, edx
.Lchacha_start:                                 # the working words start as the input
        mov rax, qword ptr [rsp + rdx + 64]
        mov qword ptr [rsp + rdx], rax
        add edx, 8
        cmp edx, 64
        jb .Lchacha_start
        mov r8d, 10
.Lchacha_double_round:
        lea rsi, [rip + .Lchacha_quarters]
        mov edi, 8
.Lchacha_quarter:                               # QR(a, b, c, d): the byte offsets at rsi
        movzx edx, byte ptr [rsi]
        mov eax, dword ptr [rsp + rdx]
        movzx edx, byte ptr [rsi + 1]
        mov ebx, dword ptr [rsp + rdx]
        movzx edx, byte ptr [rsi + 2]
        mov r11d, dword ptr [rsp + rdx]
        movzx edx, byte ptr [rsi + 3]
        mov edx, dword ptr [rsp + rdx]
        add eax, ebx
        xor edx, eax
        rol edx, 16
        add r11d, edx
        xor ebx, r11d
        rol ebx, 12
        add eax, ebx
        xor edx, eax
        rol edx, 8
        add r11d, edx
        xor ebx, r11d
        rol ebx, 7
        push rdx                                # d's value, while rdx finds the offsets
        .cfi_adjust_cfa_offset 8
        movzx edx, byte ptr [rsi]
        mov dword ptr [rsp + rdx + 8], eax
        movzx edx, byte ptr [rsi + 1]
        mov dword ptr [rsp + rdx + 8], ebx
        movzx edx, byte ptr [rsi + 2]
        mov dword ptr [rsp + rdx + 8], r11d
        pop rax
        .cfi_adjust_cfa_offset -8
        movzx edx, byte ptr [rsi + 3]
        mov dword ptr [rsp + rdx], eax
        add rsi, 4
        dec edi
        jnz .Lchacha_quarter
        dec r8d
        jnz .Lchacha_double_round
        xor edx, edx
.Lchacha_out:                                   # out = working words + input, then wiped
        mov eax, dword ptr [rsp + rdx]
        add eax, dword ptr [rsp + rdx + 64]
        mov dword ptr [r9 + rdx], eax
        mov dword ptr [rsp + rdx], 0
        mov dword ptr [rsp + rdx + 64], 0
        add edx, 4
        cmp edx, 64
        jb .Lchacha_out
        add rsp, 128
        .cfi_adjust_cfa_offset -128
        pop rdi
        .cfi_adjust_cfa_offset -8
        .cfi_restore rdi
        pop rsi
        .cfi_adjust_cfa_offset -8
        .cfi_restore rsi
        pop r8
        .cfi_adjust_cfa_offset -8
        .cfi_restore r8
        pop rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbx
        ret
        .cfi_endproc
        .size vgetrandom_chacha_block, . - vgetrandom_chacha_block
.Lchacha_quarters:                              # the words' byte offsets, four per round
        .byte 0, 16, 32, 48,  4, 20, 36, 52,  8, 24, 40, 56,  12, 28, 44, 60
        .byte 0, 20, 40, 60,  4, 24, 44, 48,  8, 28, 32, 52,  12, 16, 36, 56

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
# The bytes are ChaCha20 blocks of the state's key (counter 0, 1, ...), and the block after
# them becomes the next key (fast key erasure), as Linux does; Linux also keeps a batch of
# 96 unused bytes in the state for the next small request, which this version does not.
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
.Lrandom_keyed:
        sub rsp, 72                             # a block's worth of scratch
        .cfi_adjust_cfa_offset 72
        mov r8, rsi                             # bytes left
        xor r10d, r10d                          # block counter: a fresh key each call
.Lrandom_block:
        cmp r8, 64
        jb .Lrandom_partial
        mov r9, rdi                             # whole blocks straight into the buffer
        call vgetrandom_chacha_block
        add rdi, 64
        sub r8, 64
        inc r10
        jmp .Lrandom_block
.Lrandom_partial:
        test r8, r8
        jz .Lrandom_rekey
        mov r9, rsp
        call vgetrandom_chacha_block
        inc r10
        xor edx, edx
.Lrandom_tail:
        mov al, byte ptr [rsp + rdx]
        mov byte ptr [rdi + rdx], al
        inc rdx
        cmp rdx, r8
        jb .Lrandom_tail
.Lrandom_rekey:
        mov r9, rsp                             # fast key erasure: the next block's first
        call vgetrandom_chacha_block            # 32 bytes replace the key just used
        mov rax, qword ptr [rsp]
        mov qword ptr [rcx + VGR_KEY], rax
        mov rax, qword ptr [rsp + 8]
        mov qword ptr [rcx + VGR_KEY + 8], rax
        mov rax, qword ptr [rsp + 16]
        mov qword ptr [rcx + VGR_KEY + 16], rax
        mov rax, qword ptr [rsp + 24]
        mov qword ptr [rcx + VGR_KEY + 24], rax
        xor eax, eax
        mov qword ptr [rsp], rax
        mov qword ptr [rsp + 8], rax
        mov qword ptr [rsp + 16], rax
        mov qword ptr [rsp + 24], rax
        mov qword ptr [rsp + 32], rax
        mov qword ptr [rsp + 40], rax
        mov qword ptr [rsp + 48], rax
        mov qword ptr [rsp + 56], rax
        add rsp, 72
        .cfi_adjust_cfa_offset -72
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
