; Routes that need no exit (test/runtime/no-exit-routes.test.ts). Every vCPU does `iterations`
; rounds of four port accesses, none of which should exit, and counts each kind in its own block
; of RAM at 0x1000 + 32 * vCPU (vCPU = CPUID initial APIC ID):
;   in eax, 0x608   - the ACPI PM timer, an in-vCPU device               [block+0]  reads
;   out 0x300, al   - an in-vCPU counter plugged by the test              [block+4]  writes, [block+8] byte sum
;   out 0x310, al   - a coalesced zone (exits only when the ring is full) [block+12] writes
;   out 0x320, ax   - an ioeventfd matching 2-byte writes of 0x1234       [block+16] writes
; The byte written to 0x300 and 0x310 is the low byte of the round counter; then HLT.
bits 16
org 0x7c00
start:
    xor ax, ax
    mov ds, ax
    mov eax, 1
    cpuid
    shr ebx, 24                 ; EBX = vCPU index
    mov si, bx
    shl si, 5
    add si, 0x1000              ; SI = this vCPU's counter block
    mov ecx, [iterations]
.loop:
    mov dx, 0x608
    in eax, dx
    inc dword [si]
    mov dx, 0x300
    mov al, cl
    out dx, al
    inc dword [si + 4]
    movzx eax, cl
    add [si + 8], eax
    mov dx, 0x310
    mov al, cl
    out dx, al
    inc dword [si + 12]
    mov dx, 0x320
    mov ax, 0x1234
    out dx, ax
    inc dword [si + 16]
    dec ecx
    jnz .loop
    hlt

align 4
iterations:                     ; patched by the test (the last dword)
    dd 200
