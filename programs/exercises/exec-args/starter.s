; execve("/usr/lib/syscall-lab/bin/echo_args.glibc-x86_64", ["echo_args", "hello", argv[1]], envp)
bits 64

section .data
path:   db "/usr/lib/syscall-lab/bin/echo_args.glibc-x86_64", 0

section .text
_start:
    ; your code here
