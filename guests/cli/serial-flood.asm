; Never ends: vCPU 0 writes lines of 'x' to the UART (0x3f8) as fast as it can, a 4 KiB REP OUTSB
; per exit, for tests of what a slow, stalled or failing reader of the serial output costs. Other
; vCPUs halt at once. Only the --timeout watchdog (or a failing output) stops it.
bits 16
org 0x7c00
BUF equ 0x1000
LINES equ 64
    mov eax, 1
    cpuid
    shr ebx, 24                 ; EBX[31:24]: initial APIC ID = vCPU index
    jz .vcpu0
    hlt
.vcpu0:
    xor ax, ax
    mov ds, ax
    mov es, ax
    cld
    mov di, BUF                 ; LINES lines of 63 'x' and a newline: 4096 bytes
    mov bx, LINES
.line:
    mov cx, 63
    mov al, 'x'
    rep stosb
    mov al, 10
    stosb
    dec bx
    jnz .line
    mov dx, 0x3f8
.flood:
    mov si, BUF
    mov cx, LINES * 64
    rep outsb
    jmp .flood
