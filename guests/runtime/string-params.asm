; One INS or OUTS, chosen by parameters the test patches in (test/e2e/string-io-property.test.ts):
; every element size, DF, 16- or 32-bit addressing, with or without REP, at any ES = DS and
; [E]SI = [E]DI, then HLT. The test reads the registers and RAM after it. The parameters sit at
; a fixed place, the dwords right after the first jump (image offset 4), so the test can append
; a data pattern to the image (loaded after it) for OUTS to read. No stack, no interrupts.
bits 16
org 0x7c00

start:
    jmp near main
    align 4
op:                             ; patched (image offset 4): 0-2 INSB/W/D, 3-5 OUTSB/W/D
    dd 0
flags:                          ; patched (offset 8): bit 0 DF, bit 1 a32, bit 2 no REP
    dd 0
dataseg:                            ; patched (offset 12): ES and DS
    dd 0
index:                          ; patched (offset 16): ESI and EDI
    dd 0
count:                          ; patched (offset 20): ECX
    dd 0
port:                           ; patched (offset 24): DX
    dd 0

main:
    cli
    xor ax, ax
    mov ds, ax
    mov bx, [flags]
    and bx, 6                   ; a32 and no-REP pick the table: (flags >> 1) * 6 + op
    shr bx, 1
    imul bx, bx, 6
    add bx, [op]
    shl bx, 1
    mov bp, [table + bx]
    mov ecx, [count]
    mov edx, [port]
    mov esi, [index]
    mov edi, esi
    cld
    test byte [flags], 1
    jz .up
    std
.up:
    mov ax, [dataseg]
    mov es, ax
    mov ds, ax
    jmp bp

; One entry per (no REP, a32, op), in table order: the instruction, then HLT.
rep16_insb:  rep insb
    hlt
rep16_insw:  rep insw
    hlt
rep16_insd:  rep insd
    hlt
rep16_outsb: rep outsb
    hlt
rep16_outsw: rep outsw
    hlt
rep16_outsd: rep outsd
    hlt
rep32_insb:  a32 rep insb
    hlt
rep32_insw:  a32 rep insw
    hlt
rep32_insd:  a32 rep insd
    hlt
rep32_outsb: a32 rep outsb
    hlt
rep32_outsw: a32 rep outsw
    hlt
rep32_outsd: a32 rep outsd
    hlt
one16_insb:  insb
    hlt
one16_insw:  insw
    hlt
one16_insd:  insd
    hlt
one16_outsb: outsb
    hlt
one16_outsw: outsw
    hlt
one16_outsd: outsd
    hlt
one32_insb:  a32 insb
    hlt
one32_insw:  a32 insw
    hlt
one32_insd:  a32 insd
    hlt
one32_outsb: a32 outsb
    hlt
one32_outsw: a32 outsw
    hlt
one32_outsd: a32 outsd
    hlt

align 2
table:
    dw rep16_insb, rep16_insw, rep16_insd, rep16_outsb, rep16_outsw, rep16_outsd
    dw rep32_insb, rep32_insw, rep32_insd, rep32_outsb, rep32_outsw, rep32_outsd
    dw one16_insb, one16_insw, one16_insd, one16_outsb, one16_outsw, one16_outsd
    dw one32_insb, one32_insw, one32_insd, one32_outsb, one32_outsw, one32_outsd
