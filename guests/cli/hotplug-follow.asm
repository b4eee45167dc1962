; Follows a --hotplug schedule that plugs a test device at 0x300, moves it to 0x310 and unplugs it
; (test/cli/hotplug.test.ts). The guest waits for each change by probing, so it needs no clock:
;   1. write 0x5a to 0x300 and read it back until it reads 0x5a (the device is plugged there);
;   2. the same at 0x310 (the device has moved there);
;   3. write 0x5a to 0x310 and read it back until it reads 0xff (unplugged: unassigned reads all ones);
; then writes 0x10 to isa-debug-exit (status 33). Every probe exits, so the exit count keeps
; rising for afterExits triggers.
bits 16
org 0x7c00
    mov dx, 0x300
.plugged:
    mov al, 0x5a
    out dx, al
    in al, dx
    cmp al, 0x5a
    jne .plugged
    mov dx, 0x310
.moved:
    mov al, 0x5a
    out dx, al
    in al, dx
    cmp al, 0x5a
    jne .moved
.unplugged:
    mov al, 0x5a
    out dx, al
    in al, dx
    cmp al, 0xff
    jne .unplugged
    mov al, 0x10
    out 0xf4, al
    hlt
