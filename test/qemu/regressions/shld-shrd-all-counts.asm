; Regression (hand-written from seeds 29, 46, 87, 129, 145 of the QEMU differential, minimized):
; SHLD/SHRD of a dword by counts 0-31, from a register and from memory, with the count in CL.
; piosim got the low bits of 32-bit SHLD wrong for large counts (e.g. 26: 0xe38329f0 instead of
; QEMU's 0xe38329f2). Every result goes to port 0xe0; flags are not compared (OF is undefined
; for counts above 1, AF always).
bits 16
org 0x7c00
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    xor cx, cx
.next:
    mov eax, 0x12345678
    mov esi, 0xe0ca7c88
    shld eax, esi, cl
    out 0xe0, eax
    mov dword [0x1000], 0x9abcdef1
    shld dword [0x1000], esi, cl
    mov eax, [0x1000]
    out 0xe0, eax
    mov eax, 0x12345678
    shrd eax, esi, cl
    out 0xe0, eax
    mov dword [0x1000], 0x9abcdef1
    shrd dword [0x1000], esi, cl
    mov eax, [0x1000]
    out 0xe0, eax
    mov ax, 0x5678
    mov si, 0x7c88
    shld ax, si, cl
    out 0xe0, ax
    mov ax, 0x5678
    shrd ax, si, cl
    out 0xe0, ax
    inc cx
    cmp cx, 32
    jb .next
    mov eax, 0x12345678
    shld eax, esi, 26
    out 0xe0, eax
    shrd eax, esi, 26
    out 0xe0, eax
    mov al, 0
    out 0xf4, al
    hlt
