; Coalesced writes and the next exit, in program order (test/runtime/no-exit-routes.test.ts).
; vCPU v (CPUID initial APIC ID) owns ports P = 0x400 + 16 * v: the test plugs one device at
; P..P+3 as a coalesced zone and at P+4..P+7 as an ordinary (exiting) range, so both ranges reach
; the same latch. For i = 1 .. `iterations`:
;   out P, eax = i                    - coalesced: no exit
;   every round where i & `mask` == 0:
;     in eax, P+4                     - exits: must read back i (the coalesced write was delivered
;                                       before this exit was served); mismatches at [0x1000 + 32v]
;     out P+4, eax = i | 0x80000000   - exits
; Reads made are counted at [0x1000 + 32v + 4]; then HLT.
bits 16
org 0x7c00
start:
    xor ax, ax
    mov ds, ax
    mov eax, 1
    cpuid
    shr ebx, 24                 ; EBX = vCPU index
    mov si, bx
    shl si, 5
    add si, 0x1000              ; SI = this vCPU's result block
    shl bx, 4
    add bx, 0x400               ; BX = P
    mov ecx, 1
.loop:
    mov dx, bx
    mov eax, ecx
    out dx, eax
    mov edi, ecx
    and edi, [mask]
    jnz .next
    lea dx, [bx + 4]
    in eax, dx
    inc dword [si + 4]
    cmp eax, ecx
    je .same
    inc dword [si]
.same:
    mov eax, ecx
    or eax, 0x80000000
    out dx, eax
.next:
    inc ecx
    cmp ecx, [iterations]
    jbe .loop
    hlt

align 4
mask:                           ; patched by the test (the second-to-last dword): a power of two minus one
    dd 7
iterations:                     ; patched by the test (the last dword)
    dd 1000
