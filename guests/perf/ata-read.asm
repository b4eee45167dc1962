; Reads a 256-sector disk 8 times over with READ SECTORS (count 0 = 256), one `rep insw` of 256
; words per sector after polling status: 2048 sectors, 1 MiB through the ATA data port. For
; perf/ata-pio.ts (sector throughput by string-batch mode). Ends with 0 at isa-debug-exit, or 1
; if a sector came without DRQ.
bits 16
org 0x7c00

ATA equ 0x1f0

    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    cld
    mov bp, 8                   ; rounds
.round:
    mov dx, ATA + 2
    xor al, al                  ; 256 sectors
    out dx, al
    inc dx
    out dx, al                  ; LBA 0
    inc dx
    out dx, al
    inc dx
    out dx, al
    inc dx
    mov al, 0xe0
    out dx, al
    inc dx
    mov al, 0x20
    out dx, al
    mov si, 256
.sector:
    mov dx, ATA + 7
.poll:
    in al, dx
    test al, 0x80
    jnz .poll
    test al, 0x08
    jz .fail
    mov di, 0x1000
    mov cx, 256
    mov dx, ATA
    rep insw
    dec si
    jnz .sector
    dec bp
    jnz .round
    xor al, al
    out 0xf4, al
    hlt
.fail:
    mov al, 1
    out 0xf4, al
    hlt
