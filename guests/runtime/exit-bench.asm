; Exit-throughput benchmark guest (perf/exit-throughput.ts). First `warmup` times `out dx, al`
; to the test device at 0xE0 (so the vCPU worker's fresh JIT has compiled the interpreter's hot
; path before anything is timed), then marks the start and the end of the measured loop with one
; UART byte each ('S', 'E') so the benchmark times that loop alone, which does `iterations` times
; `out dx, al` to the test device.
bits 16
org 0x7c00
start:
    xor ax, ax
    mov ds, ax
    mov dx, 0xe0
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
    mov dx, 0xe0
.loop:
    out dx, al
    dec ecx
    jnz .loop
    mov dx, 0x3f8
    mov al, 'E'
    out dx, al
    hlt

align 4
warmup:                         ; patched by the benchmark (the second-to-last dword)
    dd 0
iterations:                     ; patched by the benchmark (the last dword)
    dd 100000
