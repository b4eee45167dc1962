; Fault-injection guest (test/faults/exit-faults.test.ts). Every vCPU does `rounds` rounds of:
;   out 0x500, al   - an exit to the test's device (a bus device on the main thread)
;   in eax, 0x608   - the ACPI PM timer: an in-vCPU device, a read section with no exit
;   out 0xe0, eax   - an exit to pc-testdev
; counting finished rounds in the dword at 0x1000 + 4 * vCPU (vCPU = CPUID initial APIC ID),
; then halts with IF=0. A vCPU whose worker dies stops counting; the survivors reach `rounds`.
bits 16
org 0x7c00
start:
    cli
    xor ax, ax
    mov ds, ax
    mov eax, 1
    cpuid
    shr ebx, 24                 ; EBX = vCPU index
    mov si, bx
    shl si, 2
    add si, 0x1000              ; SI = this vCPU's round counter
    mov dword [si], 0
    mov ecx, [rounds]
.round:
    mov al, bl
    mov dx, 0x500
    out dx, al
    mov dx, 0x608
    in eax, dx
    out 0xe0, eax
    inc dword [si]
    dec ecx
    jnz .round
    hlt

align 4
rounds:                         ; patched by the test
    dd 1000
