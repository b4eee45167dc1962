; Never ends: vCPU 0 writes lines of 'x' to the UART (0x3f8) as fast as it can, for tests of what
; a slow or failing reader of the serial output costs. Other vCPUs halt at once.
bits 16
org 0x7c00
    mov eax, 1
    cpuid
    shr ebx, 24                 ; EBX[31:24]: initial APIC ID = vCPU index
    jz .vcpu0
    hlt
.vcpu0:
    mov dx, 0x3f8
.line:
    mov cx, 63
    mov al, 'x'
.byte:
    out dx, al
    loop .byte
    mov al, 10
    out dx, al
    jmp .line
