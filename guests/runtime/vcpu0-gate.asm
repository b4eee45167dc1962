; vCPU-0 gate (test/runtime/threads.test.ts): runs a one-vCPU guest on vCPU 0 of a VM with more
; vCPUs, the others ending at once, so a single-vCPU guest can be run multiplexed on a worker
; thread with other vCPUs and compared with its run on a thread of its own.
; The test loads the guest at 0x7C00 with its first 3 bytes replaced by `jmp GATE`, this gate at
; GATE, `others` = vCPUs - 1 and `saved` = the guest's first 3 bytes. Every vCPU but 0 counts
; itself in and ends (CLI; HLT). vCPU 0 waits until all have, puts the 3 bytes back, restores the
; reset state the gate changed (EAX EBX ECX = 0, EDX = the CPU signature, FLAGS = 2, the stack
; word it used = 0) and jumps to 0000:7C00: from there the guest runs as from reset.
bits 16
GATE equ 0xe000
org GATE
gate:
    mov eax, 1
    cpuid
    shr ebx, 24                 ; EBX = vCPU index (initial APIC ID)
    jz .first
    lock inc word [arrived]
    cli
    hlt
.first:
    mov edx, eax                ; CPUID.1 EAX is the signature EDX holds at reset
.wait:
    mov ax, [arrived]
    cmp ax, [others]
    jne .wait
    mov ax, [saved]
    mov [0x7c00], ax
    mov al, [saved + 2]
    mov [0x7c02], al
    xor eax, eax
    xor ebx, ebx
    xor ecx, ecx
    push word 2
    popf
    mov word [0x7bfe], 0
    jmp 0x0000:0x7c00

align 2
arrived: dw 0
others:  dw 0                   ; patched: vCPUs - 1
saved:   db 0, 0, 0             ; patched: the guest's first 3 bytes
