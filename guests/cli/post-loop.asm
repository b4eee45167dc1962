; Never ends: every vCPU writes to the POST port 0x80 in a loop, one fast-path exit per OUT, so a
; run's exit count says how long the guest ran. Only the --timeout watchdog stops it (status 6).
bits 16
org 0x7c00
    xor ax, ax
.forever:
    out 0x80, al
    inc ax
    jmp .forever
