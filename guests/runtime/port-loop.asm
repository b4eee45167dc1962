; Port-access benchmark guest (perf/in-vcpu.ts, perf/hotplug.ts, perf/grace.ts). Every vCPU first
; makes `warmup` untimed accesses (so the worker's fresh JIT has compiled the interpreter's hot
; path), writes 'S' to the UART, makes `iterations` timed accesses, writes 'E' and halts. The
; access is `out dx, al` when `mode` is 0 and `in eax, dx` otherwise, with DX = `port`; the
; benchmark times the window between the marks. No call/push: every vCPU runs this code with the
; same SS:SP, so a shared stack would race.
bits 16
org 0x7c00

; ECX accesses of the configured kind to the configured port.
%macro accesses 1
    mov dx, [port]
    test ecx, ecx
    jz %1_done
    cmp dword [mode], 0
    jne %1_in
%1_out:
    out dx, al
    dec ecx
    jnz %1_out
    jmp %1_done
%1_in:
    in eax, dx
    dec ecx
    jnz %1_in
%1_done:
%endmacro

start:
    xor ax, ax
    mov ds, ax
    mov ecx, [warmup]
    accesses warm
    mov dx, 0x3f8
    mov al, 'S'
    out dx, al
    mov ecx, [iterations]
    accesses measured
    mov dx, 0x3f8
    mov al, 'E'
    out dx, al
    hlt

align 4
mode:                           ; patched: 0 = out dx, al; 1 = in eax, dx (the fourth-to-last dword)
    dd 0
port:                           ; patched (the third-to-last dword)
    dd 0xe0
warmup:                         ; patched (the second-to-last dword)
    dd 0
iterations:                     ; patched (the last dword)
    dd 100000
