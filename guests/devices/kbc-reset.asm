; Resets the machine the way PC software does when it reboots: wait until the i8042's input
; buffer is empty, then pulse the CPU reset line with command 0xFE. piosim resets the VM, so the
; guest does this again and again until the timeout; with --no-reboot the run ends with outcome
; 'reset-requested' (status 13). A POST code first shows how far the guest got.
bits 16
org 0x7c00

    cli
    mov al, 0x01
    out 0x80, al
.wait:
    in al, 0x64
    test al, 0x02               ; input buffer full?
    jnz .wait
    mov al, 0xfe
    out 0x64, al
.spin:
    jmp .spin                   ; the reset takes effect here
