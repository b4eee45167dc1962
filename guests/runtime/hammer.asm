; Stress guest for the exit path (test/runtime/hammer.test.ts).
; Every vCPU reads its own exit count K from `counts` (indexed by its CPUID APIC ID), then does
; K rounds of: OUT to the test device (0xE0) a value naming the vCPU and the round,
; IN from an unassigned port (0x81, reads 0xFF), summed into EDI. It ends with HLT, so the
; final registers say how many IN completions it saw: EDI = K * 0xFF.
bits 16
org 0x7c00
start:
    xor ax, ax
    mov ds, ax
    mov eax, 1
    cpuid
    shr ebx, 24                 ; EBX = vCPU index (initial APIC ID)
    mov si, bx
    shl si, 2
    mov ecx, [si + counts]      ; ECX = K for this vCPU
    xor edi, edi
.round:
    test ecx, ecx
    jz .done
    mov eax, ebx
    shl eax, 24
    or eax, ecx                 ; value = vCPU << 24 | rounds left (K < 2^24)
    out 0xe0, eax
    xor eax, eax
    in al, 0x81                 ; unassigned: all ones
    add edi, eax
    dec ecx
    jmp .round
.done:
    hlt

align 4
counts:                         ; patched by the test: one dword per vCPU (64)
    times 64 dd 100
