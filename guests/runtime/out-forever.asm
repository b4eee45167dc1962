; A guest that exits forever: OUT to the test device in a loop (fault injection, control plane).
; EBX counts completed OUTs so the control-plane tests can watch it move.
bits 16
org 0x7c00
start:
    xor ebx, ebx
.loop:
    out 0xe0, al
    inc ebx
    jmp .loop
