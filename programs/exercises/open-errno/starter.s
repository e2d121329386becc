; open(argv[1], O_WRONLY); print "ok" or the error's name, exit 0 or 1.
bits 64

section .data
ok:      db "ok", 10
enoent:  db "ENOENT", 10

section .text
_start:
    ; your code here
