; Isolation (test/reliability/isolation.test.ts): 32-bit addresses past the end of RAM. Real mode
; with the 0x67 prefix computes full 32-bit offsets (no limit check in this CPU model), so these
; reach linear addresses far beyond RAM. Each read must give all ones, each write must be dropped
; (and both counted); the guest checks what it can see and reports through isa-debug-exit:
; 0 = every check held (exit status 1), else the number of the failed check.
bits 16
org 0x7c00
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov esi, 0xFFFFFFF0         ; the top of the 4 GiB space
    mov dword [esi], 0x12345678 ; dropped
    mov eax, [esi]
    mov bl, 1
    cmp eax, 0xFFFFFFFF         ; outside RAM reads as all ones
    jne fail
    mov edi, 0x00100000         ; the first byte past 1 MiB of RAM
    mov byte [edi], 0x55
    mov al, [edi]
    mov bl, 2
    cmp al, 0xFF
    jne fail
    mov ebx, 0x80000000         ; a base register far out, and a scaled index back into RAM
    mov ecx, 0x20000000
    mov eax, [ebx + ecx*4 + 0x7c00] ; wraps to linear 0x7C00 modulo 2^32: the guest's own first bytes
    mov bl, 3
    cmp al, 0x31                ; "xor ax, ax" is 31 C0
    jne fail
    mov al, 0
    out 0xf4, al
fail:
    mov al, bl
    out 0xf4, al
