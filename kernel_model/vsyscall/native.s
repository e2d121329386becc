# The vsyscall page before Linux 3.1 (vsyscall=native): real code at 0xffffffffff600000
# reading the kernel's time variables, which live in the same page at +0xc00 (the era's
# vsyscall_gtod_data). Three entry points, 1 KiB apart: gettimeofday, time, getcpu.
# Position independent (rip-relative), so the bytes are assembled at offset 0.

.intel_syntax noprefix
.text
.set gtod, 0xc00                                # the data block, kept by the kernel model
.set SEQ, gtod + 0
.set CYCLE_LAST, gtod + 8
.set MASK, gtod + 16
.set MULT, gtod + 24
.set SHIFT, gtod + 28
.set WALL_SEC, gtod + 32
.set WALL_SNSEC, gtod + 40
.set TZ, gtod + 48

# int gettimeofday(struct timeval *tv, struct timezone *tz)          (+0x000)
vgettimeofday:
        test rdi, rdi
        jz .Ltz
.Lagain:
        mov r10d, dword ptr [rip + SEQ]         # the seqlock: retry while odd or changed
        test r10d, 1
        jnz .Lspin
        rdtsc
        shl rdx, 32
        or rax, rdx
        sub rax, qword ptr [rip + CYCLE_LAST]
        and rax, qword ptr [rip + MASK]
        mov ecx, dword ptr [rip + MULT]
        mul rcx                                 # cycles * mult, 128 bits
        add rax, qword ptr [rip + WALL_SNSEC]
        adc rdx, 0
        mov ecx, dword ptr [rip + SHIFT]
        shrd rax, rdx, cl                       # nanoseconds past WALL_SEC
        mov r11, qword ptr [rip + WALL_SEC]
        cmp r10d, dword ptr [rip + SEQ]
        jne .Lagain
        xor edx, edx
        mov ecx, 1000000000
        div rcx
        add rax, r11
        mov qword ptr [rdi], rax                # tv_sec
        mov rax, rdx
        xor edx, edx
        mov ecx, 1000
        div rcx
        mov qword ptr [rdi + 8], rax            # tv_usec
.Ltz:
        test rsi, rsi
        jz .Ldone
        mov rax, qword ptr [rip + TZ]
        mov qword ptr [rsi], rax
.Ldone:
        xor eax, eax
        ret
.Lspin:
        pause
        jmp .Lagain

        .align 1024
# time_t time(time_t *t)                                              (+0x400)
vtime:
        mov rax, qword ptr [rip + WALL_SEC]
        test rdi, rdi
        jz .Lout
        mov qword ptr [rdi], rax
.Lout:
        ret

        .align 1024
# long getcpu(unsigned *cpu, unsigned *node, void *cache)            (+0x800)
vgetcpu:
        test rdi, rdi
        jz .Lnode
        mov dword ptr [rdi], 0
.Lnode:
        test rsi, rsi
        jz .Lret
        mov dword ptr [rsi], 0
.Lret:
        xor eax, eax
        ret
