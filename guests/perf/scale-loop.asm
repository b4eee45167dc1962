; Scaling benchmark guest (perf/scale-run.ts). Every vCPU makes `warmup` untimed `out dx, al`
; (the worker's fresh JIT compiles the interpreter's hot path), writes 'S' to the UART, makes
; `iterations` timed `out dx, al`, writes 'E' and halts. The port is `port`, plus the vCPU's
; index (CPUID leaf 1, EBX[31:24]) when `per_vcpu` is non-zero: one shared port, or a port per
; vCPU. No call/push: every vCPU runs this code with the same SS:SP.
bits 16
org 0x7c00

start:
    xor ax, ax
    mov ds, ax
    mov eax, 1
    cpuid
    shr ebx, 24                 ; EBX = vCPU index (initial APIC ID)
    mov dx, [port]
    cmp dword [per_vcpu], 0
    je .port_chosen
    add dx, bx                  ; a port of its own
.port_chosen:
    mov si, dx                  ; SI = this vCPU's port, kept across the UART marks
    mov ecx, [warmup]
    test ecx, ecx
    jz .measured
.warm:
    out dx, al
    dec ecx
    jnz .warm
.measured:
    mov dx, 0x3f8
    mov al, 'S'
    out dx, al
    mov ecx, [iterations]
    mov dx, si
.loop:
    out dx, al
    dec ecx
    jnz .loop
    mov dx, 0x3f8
    mov al, 'E'
    out dx, al
    hlt

align 4
per_vcpu:                       ; patched: 0 = one shared port, 1 = port + vCPU index (the fourth-to-last dword)
    dd 0
port:                           ; patched (the third-to-last dword)
    dd 0xe0
warmup:                         ; patched (the second-to-last dword)
    dd 0
iterations:                     ; patched (the last dword)
    dd 100000
