; vCPU 0 does 100 OUTs to the test device, then writes 0x21 to isa-debug-exit (0xF4), which ends
; the VM; every other vCPU OUTs forever and must be stopped by the VM.
bits 16
org 0x7c00
start:
    mov eax, 1
    cpuid
    shr ebx, 24
    test ebx, ebx
    jnz forever
    mov cx, 100
.loop:
    out 0xe0, al
    dec cx
    jnz .loop
    mov al, 0x21
    out 0xf4, al
    hlt                         ; not reached: the VM ends at the write
forever:
    out 0xe0, al
    jmp forever
