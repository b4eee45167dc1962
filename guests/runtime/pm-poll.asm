; PM timer polling with compute between reads (test/runtime/slice-read-section.test.ts): the
; slice-wide SRCU read section of a vCPU whose in-vCPU reads are spread over every run slice.
; vCPU 0 loops: `in eax, dx` from `port`, count the read in RAM (a value of all ones is an
; unassigned port: the PM timer counts only 24 bits), then `spin` iterations of arithmetic. With
; `halt_after` non-zero it stops after that many reads in STI; HLT, halting again after every
; interrupt (each vector points at an IRET). Every other vCPU spins forever (keeps a VM with a
; halted vCPU 0 alive).
; The counters live at 0x9000, away from the code's page (a store there would retranslate it):
;   0x9000 reads that returned a PM timer value     0x9004 reads that returned all ones
;   0x9008 1 once a read returned all ones           0x900C 1 if a PM value came after that
bits 16
org 0x7c00

PM_READS   equ 0x9000
UNASSIGNED equ 0x9004
SEEN_ONES  equ 0x9008
MIXED      equ 0x900c

start:
    xor ax, ax
    mov ds, ax
    mov eax, 1
    cpuid
    shr ebx, 24                 ; EBX = vCPU index (initial APIC ID)
    jz .vcpu0
.other:
    jmp .other
.vcpu0:
    xor di, di                  ; IVT: every vector -> 0000:ignore
    mov es, di
    mov cx, 256
.ivt:
    mov word [es:di], ignore
    mov word [es:di + 2], 0
    add di, 4
    loop .ivt
    mov dx, [port]
    mov esi, [halt_after]
.poll:
    in eax, dx
    cmp eax, 0xffffffff
    je .ones
    cmp byte [SEEN_ONES], 0
    je .pm
    mov byte [MIXED], 1
.pm:
    inc dword [PM_READS]
    jmp .compute
.ones:
    mov byte [SEEN_ONES], 1
    inc dword [UNASSIGNED]
.compute:
    mov ecx, [spin]
.spin:
    add ebx, eax
    dec ecx
    jnz .spin
    test esi, esi
    jz .poll                    ; halt_after = 0: poll forever
    dec esi
    jnz .poll
    sti
.halt:
    hlt
    jmp .halt

ignore:
    iret

align 4
port:                           ; patched (the third-to-last dword)
    dd 0x608
spin:                           ; patched (the second-to-last dword)
    dd 1000
halt_after:                     ; patched (the last dword)
    dd 0
