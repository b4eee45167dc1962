; Hot-plug storm guest (test/runtime/hotplug-storm.test.ts): every vCPU makes rounds of IN, OUT,
; INS and OUTS at the ports the test plugs, moves and unplugs devices under, until the test sets
; the stop word; each round it adds what it did to its own counters in RAM, so the test can hold
; every device's count against what the guests did. One round:
;   out 0x300, al            1 write   (whatever is at 0x300: a bus device, an in-vCPU counter, none)
;   in  al, 0x300            1 read
;   rep outsb  (4 x 0x300)   4 writes  (one exit when a bus device owns the port)
;   rep insb   (4 x 0x300)   4 reads
;   out 0x302, ax            1 write   (2 bytes at offset 2: unassigned once the device moved to 0x304)
;   in  eax, 0x608           the ACPI PM timer, an in-vCPU device: never exits
;   out 0x310, al            a coalesced zone: no exit unless this vCPU's coalesced ring is full
; No stack (every vCPU has the same SS:SP): the vCPU index comes from CPUID, the string buffers and
; counters are per vCPU.
bits 16
org 0x7c00

STOP      equ 0x0500            ; dword: non-zero = halt at the end of the round
COUNTERS  equ 0x0600            ; 16 bytes per vCPU: rounds, writes, reads (0x300..0x303)
BUFFERS   equ 0x1000            ; 16 bytes per vCPU: the INS/OUTS buffer
WRITES_PER_ROUND equ 6
READS_PER_ROUND  equ 5

start:
    xor ax, ax
    mov ds, ax
    mov es, ax
    cld
    mov eax, 1
    cpuid
    shr ebx, 24                 ; EBX = vCPU index (initial APIC ID)
    shl bx, 4                   ; BX = 16 * index
.round:
    mov dx, 0x300
    mov al, bl
    out dx, al
    in al, dx
    lea si, [bx + BUFFERS]
    mov cx, 4
    rep outsb
    lea di, [bx + BUFFERS]
    mov cx, 4
    rep insb
    mov dx, 0x302
    mov ax, bx
    out dx, ax
    mov dx, 0x608
    in eax, dx
    mov dx, 0x310
    mov al, bl
    out dx, al
    inc dword [bx + COUNTERS]
    add dword [bx + COUNTERS + 4], WRITES_PER_ROUND
    add dword [bx + COUNTERS + 8], READS_PER_ROUND
    cmp dword [STOP], 0
    je .round
    hlt
