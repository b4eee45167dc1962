; alu-loop: a compute-bound guest for perf/interp-vs-qemu.ts. The iteration count is a dword at
; offset 6 (after the marker 'ITER'); the benchmark patches it into a copy of this binary.
; Each iteration is exactly 10 instructions (8 ALU + DEC + JNZ); around the loop there are 12
; before (the JMP over the marker through the JZ) and 3 after (OUT, MOV, OUT), so a run with N
; iterations executes 10*N + 15 instructions up to the debug-exit write. The checksum in EAX goes to port 0xe0, then the
; guest writes 0 to isa-debug-exit. With N = 0 it is the "empty" guest used to measure start-up.
bits 16
org 0x7c00

start:
    jmp short main                  ; 1
    db 'ITER'
iterations:
    dd 30000000

main:
    cli                             ; 2
    xor ax, ax                      ; 3
    mov ds, ax                      ; 4
    mov ss, ax                      ; 5
    mov sp, 0x7c00                  ; 6
    mov ecx, [iterations]           ; 7
    mov eax, 1                      ; 8
    mov ebx, 0x9e3779b9             ; 9
    mov edx, 0x12345678             ; 10
    test ecx, ecx                   ; 11
    jz .done                        ; 12
.loop:
    add eax, ebx
    xor edx, eax
    rol ebx, 5
    sub eax, edx
    imul esi, eax, 3
    shr edx, 3
    or ebx, esi
    adc eax, 0x55
    dec ecx
    jnz .loop
.done:
    out 0xe0, eax
    mov al, 0
    out 0xf4, al
    hlt
