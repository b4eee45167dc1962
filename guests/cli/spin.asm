; Never ends: only the --timeout watchdog stops it (status 6).
bits 16
org 0x7c00
.forever:
    jmp .forever
