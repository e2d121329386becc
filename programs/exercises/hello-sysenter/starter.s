; Hello, argv[1]!, every syscall through __kernel_vsyscall (AT_SYSINFO = 32 in auxv).
bits 32

section .data
hello:  db "Hello, "
bang:   db "!", 10

section .text
_start:
    ; your code here
