; Control-plane guest: OUT to the test device and count in EBX, forever, until ECX becomes
; non-zero (the test sets it through setRegisters), then HLT.
bits 16
org 0x7c00
start:
    xor ebx, ebx
    xor ecx, ecx
.loop:
    out 0xe0, al
    inc ebx
    test ecx, ecx
    jz .loop
    hlt
