; Hot-plug traffic (test/runtime/hotplug.test.ts): every vCPU does `iterations` rounds of three
; port accesses while the test plugs, moves and unplugs devices under it:
;   out 0x300, al   - whatever is plugged at 0x300 then (bus device, in-vCPU counter) or unassigned
;   in eax, 0x608   - the ACPI PM timer, an in-vCPU device: never exits
;   out 0x310, al   - a coalesced zone: no exit unless the vCPU's coalesced ring is full
; then halts.
bits 16
org 0x7c00
start:
    xor ax, ax
    mov ds, ax
    mov ecx, [iterations]
.loop:
    mov al, cl
    mov dx, 0x300
    out dx, al
    mov dx, 0x608
    in eax, dx
    mov al, cl
    mov dx, 0x310
    out dx, al
    dec ecx
    jnz .loop
    hlt

align 4
iterations:                     ; patched by the test (the last dword)
    dd 20000
