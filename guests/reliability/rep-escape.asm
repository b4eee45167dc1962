; Isolation: REP string instructions with ECX = 0xFFFFFFFF under 32-bit addressing (0x67), each
; vCPU one form, all starting below the end of RAM and running on far past it: vCPU 0 REP STOSD,
; vCPU 1 REP MOVSD, vCPU 2 REP INSW from an unassigned port (an exit per batch), vCPU 3 and up
; halt. None ends by itself (4 G elements); only the watchdog stops them. The host must stay
; within its memory and every access past RAM must be dropped and counted.
bits 16
org 0x7c00
    xor ax, ax
    mov ds, ax
    mov es, ax
    cld
    mov eax, 1
    cpuid
    shr ebx, 24                 ; EBX[31:24]: initial APIC ID = vCPU index
    mov ecx, 0xFFFFFFFF
    mov edi, 0x000FFFC0         ; 16 dwords before the end of 1 MiB: a slow host still gets past it
    cmp bl, 0
    je .stos
    cmp bl, 1
    je .movs
    cmp bl, 2
    je .ins
    hlt
.stos:
    mov eax, 0xDEADBEEF
    a32 rep stosd
    hlt
.movs:
    mov esi, 0x000FFF80         ; the source crosses the end too, after the destination
    mov edi, 0x000FFFC0
    a32 rep movsd
    hlt
.ins:
    mov edi, 0x000FFFC0
    mov dx, 0x2e0               ; nothing is plugged there: reads give all ones
    a32 rep insw
    hlt
