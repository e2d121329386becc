; Print the time (seconds) from the vDSO's __vdso_time: auxv -> AT_SYSINFO_EHDR (33) ->
; PT_DYNAMIC -> DT_HASH/DT_STRTAB/DT_SYMTAB -> the symbol -> call it.
bits 64

section .data
name:   db "__vdso_time", 0

section .bss
digits: resb 32

section .text
_start:
    ; your code here
