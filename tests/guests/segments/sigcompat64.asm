; Signals and compatibility mode in a 64-bit process: an int3 in 32-bit code (cs 0x23)
; runs its handler in 64-bit mode, with cs 0x23 in the frame, and sigreturn goes back to
; 32-bit code; a handler that writes cs 0x23 and a 32-bit rip into its frame sends the
; program into compatibility mode. Exits with the sum of what each part computed.
bits 64
UC_RAX  equ 40 + 104        ; in the ucontext: uc_mcontext (at 40), then sigcontext's rax
UC_RIP  equ 40 + 128
UC_CS   equ 40 + 144
UC_FLAGS equ 0

section .data
act_trap:   dq on_trap, 0x04000004, restorer, 0     ; SA_SIGINFO | SA_RESTORER
act_usr1:   dq on_usr1, 0x04000004, restorer, 0
msg:        db "trap frame cs=0x"
frame_cs:   db "00 handler cs=0x"
handler_cs: db "00 after=0x"
after:      db "00 usr1 result=0x"
result:     db "00", 10
msglen      equ $ - msg
fptr:       dd 0
            dw 0

section .text
global _start
_start:
    lea rsp, [rel stack_top]        ; 32-bit code uses esp: a stack below 4 GiB
    mov eax, 13                     ; rt_sigaction(SIGTRAP, ...)
    mov edi, 5
    lea rsi, [rel act_trap]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 13                     ; rt_sigaction(SIGUSR1, ...)
    mov edi, 10
    lea rsi, [rel act_usr1]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, ss
    mov ds, eax
    mov es, eax
    lea eax, [rel trap32]
    mov [rel fptr], eax
    mov word [rel fptr+4], 0x23
    jmp dword far [rel fptr]

bits 32
trap32:
    mov eax, 7
    int3                            ; the handler adds 0x100 to eax in the frame
    db 0x48                         ; dec eax: only in 32-bit code
    push 0x33
    push back64
    retf

bits 64
back64:
    lea rdi, [rel after]
    call hex2
    mov eax, 39                     ; getpid
    syscall
    mov edi, eax
    mov eax, 62                     ; kill(getpid(), SIGUSR1): the handler sends us to usr132
    mov esi, 10
    syscall
    ud2                             ; never reached: sigreturn went to usr132

bits 32
usr132:                             ; entered by sigreturn, in compatibility mode
    mov eax, 0x41
    db 0x48                         ; dec eax
    push 0x33
    push done64
    retf

bits 64
done64:
    lea rdi, [rel result]
    call hex2
    mov eax, 1
    mov edi, 1
    lea rsi, [rel msg]
    mov edx, msglen
    syscall
    mov eax, 60
    xor edi, edi
    syscall

on_trap:                            ; rdx = the ucontext
    movzx eax, word [rdx + UC_CS]
    lea rdi, [rel frame_cs]
    call hex2
    mov eax, cs
    lea rdi, [rel handler_cs]
    call hex2
    add qword [rdx + UC_RAX], 0x100
    ret

on_usr1:
    mov word [rdx + UC_CS], 0x23
    lea rax, [rel usr132]
    mov [rdx + UC_RIP], rax
    ret

restorer:
    mov eax, 15
    syscall

hex2:                               ; two hex digits of al at [rdi]
    push rax
    shr al, 4
    call .digit
    mov [rdi], al
    pop rax
    call .digit
    mov [rdi + 1], al
    ret
.digit:
    and eax, 15
    lea rcx, [rel hexdig]
    mov al, [rcx + rax]
    ret

section .rodata
hexdig: db "0123456789abcdef"
section .bss
alignb 16
        resb 8192
stack_top:
