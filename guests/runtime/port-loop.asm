; Port-access benchmark guest (perf/in-vcpu.ts, perf/hotplug.ts, perf/grace.ts). Every vCPU first
; makes `warmup` untimed accesses (so the worker's fresh JIT has compiled the interpreter's hot
; path), writes 'S' to the UART, makes `iterations` timed accesses, writes 'E' and halts. The
; access is `out dx, al` when `mode` is 0 and `in eax, dx` otherwise, with DX = `port`; the
; benchmark times the window between the marks.
bits 16
org 0x7c00
start:
    xor ax, ax
    mov ds, ax
    mov ecx, [warmup]
    call accesses
    mov dx, 0x3f8
    mov al, 'S'
    out dx, al
    mov ecx, [iterations]
    call accesses
    mov dx, 0x3f8
    mov al, 'E'
    out dx, al
    hlt

; ECX accesses of the configured kind to the configured port.
accesses:
    mov dx, [port]
    test ecx, ecx
    jz .done
    cmp dword [mode], 0
    jne .in
.out:
    out dx, al
    dec ecx
    jnz .out
    ret
.in:
    in eax, dx
    dec ecx
    jnz .in
.done:
    ret

align 4
mode:                           ; patched: 0 = out dx, al; 1 = in eax, dx (the fourth-to-last dword)
    dd 0
port:                           ; patched (the third-to-last dword)
    dd 0xe0
warmup:                         ; patched (the second-to-last dword)
    dd 0
iterations:                     ; patched (the last dword)
    dd 100000
