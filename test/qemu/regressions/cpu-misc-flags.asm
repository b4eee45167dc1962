; Regression (hand-written by the CPU engineer): BCD adjusts, MUL/IMUL/IDIV, rotates and shifts by
; counts 0-39, BSF/BSR, BT/BTC, XLAT, LDS, ENTER level 3, CMPXCHG, XADD; results and flags (OF included,
; AF excluded) go to port 0xe0. piosim disagreed with QEMU on OF after DAS (undefined; QEMU clears it).
bits 16
org 0x7c00
%macro FL 1
  pushf
  pop ax
  and ax, %1
  out 0xe0, ax
%endmacro
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7000
    ; BCD on a range of values
    xor bx, bx
.bcd:
    mov ax, bx
    add al, bh
    daa
    out 0xe0, ax
    FL 0x8c5
    mov ax, bx
    sub al, bh
    das
    out 0xe0, ax
    FL 0x8c5
    mov ax, bx
    aaa
    out 0xe0, ax
    FL 0x011
    mov ax, bx
    aas
    out 0xe0, ax
    FL 0x011
    mov ax, bx
    aam 10
    out 0xe0, ax
    FL 0x0c4
    mov ax, bx
    aad 7
    out 0xe0, ax
    FL 0x0c4
    add bx, 0x1357
    jnc .bcd
    ; multiply / divide
    mov esi, 0x89abcdef
    mov ecx, 40
.md:
    mov eax, esi
    mov ebx, 0x12345
    mul ebx
    out 0xe0, eax
    mov eax, edx
    out 0xe0, eax
    FL 0x801
    mov eax, esi
    imul ebx
    out 0xe0, eax
    mov eax, edx
    out 0xe0, eax
    FL 0x801
    mov ax, si
    mul byte [0x7000]
    out 0xe0, ax
    FL 0x801
    mov ax, si
    imul bx, si, -7
    mov ax, bx
    out 0xe0, ax
    FL 0x801
    mov eax, esi
    cdq
    mov ebx, 1234567
    idiv ebx
    out 0xe0, eax
    mov eax, edx
    out 0xe0, eax
    movsx eax, si
    cwde
    out 0xe0, eax
    rol esi, 7
    add esi, 0x9e3779b9
    dec ecx
    jnz .md
    ; rotates and shifts by every count, 8/16/32
    xor cx, cx
.rot:
    mov al, 0x96
    rcl al, cl
    out 0xe0, al
    FL 0x801
    mov ax, 0x8421
    rcr ax, cl
    out 0xe0, ax
    FL 0x801
    mov eax, 0x80000001
    ror eax, cl
    out 0xe0, eax
    FL 0x801
    mov eax, 0xc0000003
    sar eax, cl
    out 0xe0, eax
    FL 0x8c5
    mov ax, 0xc003
    shl ax, cl
    out 0xe0, ax
    FL 0x8c5
    mov ebx, 0x00f0_0f00
    bsf edx, ebx
    mov eax, edx
    out 0xe0, eax
    bsr edx, ebx
    mov eax, edx
    out 0xe0, eax
    mov eax, 0x1234
    bt eax, ecx
    FL 0x801
    btc eax, ecx
    out 0xe0, eax
    inc cx
    cmp cx, 40
    jb .rot
    ; string / xlat / lds / enter
    mov bx, 0x7e00
    mov al, 5
    xlatb
    out 0xe0, al
    lds si, [0x7e00]
    mov ax, ds
    out 0xe0, ax
    mov ax, si
    out 0xe0, ax
    xor ax, ax
    mov ds, ax
    mov bp, 0x6000
    enter 16, 3
    mov ax, sp
    out 0xe0, ax
    mov ax, bp
    out 0xe0, ax
    leave
    mov ax, sp
    out 0xe0, ax
    mov ax, bp
    out 0xe0, ax
    mov dword [0x6100], 5
    mov eax, 5
    mov edx, 77
    cmpxchg [0x6100], edx
    FL 0x8c5
    mov eax, [0x6100]
    out 0xe0, eax
    xadd [0x6100], eax
    out 0xe0, eax
    mov eax, [0x6100]
    out 0xe0, eax
    mov al, 0
    out 0xf4, al
    hlt
