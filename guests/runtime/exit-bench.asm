; Exit-throughput benchmark guest (perf/exit-throughput.ts). Marks the start and the end of the
; measured loop with one UART byte each ('S', 'E') so the benchmark can time the loop alone,
; then does `iterations` times `out dx, al` to the test device at 0xE0.
bits 16
org 0x7c00
start:
    xor ax, ax
    mov ds, ax
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
iterations:                     ; patched by the benchmark
    dd 100000
