; fork; the child prints /proc/self/stat and exits with 7; the parent prints
; /proc/<child>/stat while the child is runnable (natively, in whatever state it is),
; then while it is a zombie (waitid with WNOWAIT), reaps it with wait4, and exits with
; open's result on /proc/<child>/stat after the reaping (-ENOENT: 254).
bits 64
section .data
self:   db "/proc/self/stat", 0
section .bss
status: resd 1
info:   resb 128
path:   resb 64
buf:    resb 4096
section .text
global _start
_start:
    mov eax, 57                 ; fork
    syscall
    test eax, eax
    jnz parent
    lea rdi, [rel self]         ; the child: its own stat through /proc/self
    call show
    mov eax, 60                 ; exit(7)
    mov edi, 7
    syscall
parent:
    mov r12d, eax               ; the child's pid
    call make_path
    lea rdi, [rel path]
    call show                   ; the child has not run yet: R
    mov eax, 247                ; waitid(P_PID, pid, &info, WEXITED|WNOWAIT, NULL)
    mov edi, 1
    mov esi, r12d
    lea rdx, [rel info]
    mov r10d, 0x01000004
    xor r8d, r8d
    syscall
    lea rdi, [rel path]
    call show                   ; exited, not reaped: Z
    mov eax, 61                 ; wait4(pid, &status, 0, 0)
    mov edi, r12d
    lea rsi, [rel status]
    xor edx, edx
    xor r10d, r10d
    syscall
    lea rdi, [rel path]
    call show                   ; reaped: gone
    mov edi, eax
    mov eax, 60
    syscall

make_path:                      ; path = "/proc/" + decimal(r12d) + "/stat"
    lea rdi, [rel path]
    mov dword [rdi], '/pro'
    mov word [rdi+4], 'c/'
    add rdi, 6
    mov eax, r12d
    lea rsi, [rel buf+32]       ; the digits, written backwards
    mov rcx, rsi
    mov ebx, 10
.digit:
    xor edx, edx
    div ebx
    add dl, '0'
    dec rsi
    mov [rsi], dl
    test eax, eax
    jnz .digit
.copy:
    mov al, [rsi]
    mov [rdi], al
    inc rsi
    inc rdi
    cmp rsi, rcx
    jne .copy
    mov dword [rdi], '/sta'
    mov word [rdi+4], 't'       ; "t\0"
    ret

show:                           ; print the file named at rdi; eax: open's result
    mov eax, 2                  ; open(rdi, O_RDONLY)
    xor esi, esi
    syscall
    test eax, eax
    js .done
    mov r13d, eax
    xor eax, eax                ; read(fd, buf, 4096)
    mov edi, r13d
    lea rsi, [rel buf]
    mov edx, 4096
    syscall
    mov edx, eax
    mov eax, 1                  ; write(1, buf, n)
    mov edi, 1
    lea rsi, [rel buf]
    syscall
    mov eax, 3                  ; close(fd)
    mov edi, r13d
    syscall
    xor eax, eax
.done:
    ret
