; vCPU 1 does 100 OUTs, then runs UD2 (#UD with no handler installed: a guest fault); every other
; vCPU OUTs forever and must be stopped by the VM.
bits 16
org 0x7c00
start:
    mov eax, 1
    cpuid
    shr ebx, 24
    cmp ebx, 1
    jne forever
    mov cx, 100
.loop:
    out 0xe0, al
    dec cx
    jnz .loop
bad:
    ud2
forever:
    out 0xe0, al
    jmp forever
