; Uses the example in-vCPU module examples/in-vcpu-scratch.mjs plugged at 0x500
; (--in-vcpu-module examples/in-vcpu-scratch.mjs,base=0x500; test/cli/in-vcpu-module.test.ts):
; writes 0x42 to the scratch register, reads it back (neither access exits) and writes what it
; read to isa-debug-exit, so the status is (0x42 << 1) | 1 = 133 when the device worked. Without
; the device the read is unassigned (0xff) and the status (0xff << 1 | 1) & 0xff = 255.
bits 16
org 0x7c00
    mov dx, 0x500
    mov al, 0x42
    out dx, al
    xor al, al
    in al, dx
    out 0xf4, al
    hlt
