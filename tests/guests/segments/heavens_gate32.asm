; An i386 program far-jumps to cs 0x33 and runs 64-bit code, as Linux allows ("heaven's
; gate"). Natively it exits with 0x11; syscall-lab runs i386 processes on a 32-bit CPU and
; gives SIGSEGV with a note instead (README, Simplifications).
bits 32
section .text
global _start
_start:
    jmp 0x33:c64
bits 64
c64:
    mov rdi, 0x1122334455667788
    shr rdi, 56
    mov eax, 60
    syscall
