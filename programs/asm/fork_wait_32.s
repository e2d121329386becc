; fork and wait the i386 way: `int 0x80`, the number in eax, the arguments in
; ebx, ecx, edx, esi, and the i386 table's numbers: fork 2, write 4, exit 1,
; wait4 114.
;
; fork returns twice: in the parent eax is the child's pid, in the child 0.
; The child prints and exits with 7; the parent sleeps in wait4 until then and
; takes the exit code from the status word: (status >> 8) & 0xff.
bits 32

section .data
child_msg:  db "child: fork returned 0", 10
child_len   equ $ - child_msg
parent_msg: db "parent: fork returned the child's pid; wait4: exit code "
code:       db "?", 10
parent_len  equ $ - parent_msg

section .bss
status:     resd 1                  ; wait4 writes the child's status here

section .text
global _start
_start:
    mov eax, 2              ; fork()
    int 0x80                ; returns twice: here in the parent, and in the child
    test eax, eax
    jz child                ; eax = 0: this is the child
    js failed               ; eax < 0: -errno, no child was made

parent:                     ; eax = the child's pid
    mov ebx, eax            ; wait4(pid, &status, 0, NULL)
    mov ecx, status
    xor edx, edx
    xor esi, esi
    mov eax, 114
    int 0x80                ; sleeps until the child has exited
    mov eax, [status]
    shr eax, 8              ; WEXITSTATUS: bits 8..15
    and eax, 0xff
    add al, '0'             ; one digit is enough for 7
    mov [code], al
    mov eax, 4              ; write(1, parent_msg, parent_len)
    mov ebx, 1
    mov ecx, parent_msg
    mov edx, parent_len
    int 0x80
    mov eax, 1              ; exit(0)
    xor ebx, ebx
    int 0x80

child:
    mov eax, 4              ; write(1, child_msg, child_len)
    mov ebx, 1
    mov ecx, child_msg
    mov edx, child_len
    int 0x80
    mov eax, 1              ; exit(7): the parent's wait4 collects the 7
    mov ebx, 7
    int 0x80

failed:
    neg eax                 ; exit with the errno
    mov ebx, eax
    mov eax, 1
    int 0x80
