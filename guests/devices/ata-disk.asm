; Drives the ATA disk at 0x1f0 as a PIO driver does, for test/devices/pc-guests.test.ts, against
; a 64-sector image the test writes (sector s, byte b = (s * 7 + b) & 0xff): reset registers,
; IDENTIFY, READ SECTORS (LBA28, 3 sectors, one `rep insw` each), SET MULTIPLE MODE 4 and READ
; MULTIPLE (8 sectors, one `rep insw` per 4-sector block), WRITE SECTORS and WRITE MULTIPLE with
; `rep outsw`, a read-back compared in the guest, a CHS read, bad requests (a read running past
; the end, an unknown command), the absent device 1, and IRQ 14 as the slave PIC's IRR shows it
; (none under nIEN). Polls status (BSY, then DRQ/ERR); interrupts off.
; Prints the IDENTIFY capacity, a checksum of what it read, and verdicts. Ends with 0x33 at 0xf4.
bits 16
org 0x7c00

ATA     equ 0x1f0
STATUS  equ 0x1f7
ALTST   equ 0x3f6
IDBUF   equ 0x1000
RDBUF   equ 0x2000
WRBUF   equ 0x6000

    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    cld

    mov dx, ATA + 1             ; reset values of the task file
.regs:
    in al, dx
    inc dx
    cmp dx, ATA + 8
    jne .regs
    mov dx, ALTST
    in al, dx

; --- IDENTIFY ------------------------------------------------------------------------------
    mov dx, ATA + 6
    mov al, 0xa0
    out dx, al
    mov dx, STATUS
    mov al, 0xec
    out dx, al
    call wait_drq
    mov di, IDBUF
    mov cx, 256
    mov dx, ATA
    rep insw
    mov dx, STATUS
    in al, dx
    mov si, msg_capacity
    call print_str
    mov ax, [IDBUF + 61 * 2]
    call print_hex16
    mov ax, [IDBUF + 60 * 2]
    call print_hex16
    mov si, msg_crlf
    call print_str

; --- READ SECTORS: LBA 1, 3 sectors ---------------------------------------------------------
    mov bx, 1
    mov cl, 3
    mov ch, 0x20
    call issue_lba
    mov di, RDBUF
    mov bp, 3
.read1:
    call wait_drq
    mov cx, 256
    mov dx, ATA
    rep insw
    dec bp
    jnz .read1
    call show_taskfile

; --- SET MULTIPLE MODE 4, READ MULTIPLE: LBA 8, 8 sectors ------------------------------------
    mov dx, ATA + 2
    mov al, 4
    out dx, al
    mov dx, STATUS
    mov al, 0xc6
    out dx, al
    call wait_ready
    mov bx, 8
    mov cl, 8
    mov ch, 0xc4
    call issue_lba
    mov bp, 2
.readm:
    call wait_drq
    mov cx, 1024
    mov dx, ATA
    rep insw
    dec bp
    jnz .readm
    call show_taskfile
    mov si, RDBUF               ; checksum of the 11 sectors read
    mov cx, 11 * 256
    xor bx, bx
.sum:
    lodsw
    add bx, ax
    loop .sum
    mov si, msg_sum
    call print_str
    mov ax, bx
    call print_hex16
    mov si, msg_crlf
    call print_str

; --- WRITE SECTORS: LBA 40, 2 sectors; WRITE MULTIPLE: LBA 50, 4 sectors ----------------------
    mov di, WRBUF               ; pattern: byte k = (k * 3) ^ 0x5a
    xor cx, cx
.fill:
    mov al, cl
    mov ah, 3
    mul ah
    xor al, 0x5a
    stosb
    inc cx
    cmp cx, 4 * 512
    jne .fill
    mov bx, 40
    mov cl, 2
    mov ch, 0x30
    call issue_lba
    mov si, WRBUF
    mov bp, 2
.write1:
    call wait_drq
    mov cx, 256
    mov dx, ATA
    rep outsw
    dec bp
    jnz .write1
    call wait_ready
    mov bx, 50
    mov cl, 4
    mov ch, 0xc5
    call issue_lba
    call wait_drq
    mov si, WRBUF
    mov cx, 1024
    mov dx, ATA
    rep outsw
    call wait_ready
    call show_taskfile

    mov bx, 50                  ; read LBA 50-51 back and compare
    mov cl, 2
    mov ch, 0x20
    call issue_lba
    mov di, RDBUF
    mov bp, 2
.readback:
    call wait_drq
    mov cx, 256
    mov dx, ATA
    rep insw
    dec bp
    jnz .readback
    mov si, RDBUF
    mov di, WRBUF
    mov cx, 1024
    repe cmpsb
    mov si, msg_write_ok
    je .wr
    mov si, msg_write_bad
.wr:
    call print_str

; --- CHS: cylinder 0, head 1, sector 1 = LBA 63 (16 heads, 63 sectors) ------------------------
    mov dx, ATA + 2
    mov al, 1
    out dx, al
    inc dx
    out dx, al                  ; sector 1
    inc dx
    xor al, al
    out dx, al
    inc dx
    out dx, al
    inc dx
    mov al, 0xa1                ; CHS, device 0, head 1
    out dx, al
    inc dx
    mov al, 0x20
    out dx, al
    call wait_drq
    mov di, RDBUF
    mov cx, 256
    mov dx, ATA
    rep insw
    call show_taskfile
    mov ax, [RDBUF]
    call print_hex16
    mov si, msg_crlf
    call print_str

; --- bad requests ----------------------------------------------------------------------------
    mov bx, 63                  ; two sectors from the last one: the first transfers,
    mov cl, 2                   ; the second aborts (ERR, ABRT)
    mov ch, 0x20
    call issue_lba
    call wait_drq
    mov di, RDBUF
    mov cx, 256
    mov dx, ATA
    rep insw
    call wait_ready
    mov dx, ATA + 1
    in al, dx
    mov dx, STATUS
    mov al, 0x55                ; no such command
    out dx, al
    call wait_ready
    mov dx, ATA + 1
    in al, dx

; --- device 1 is absent ---------------------------------------------------------------------
    mov dx, ATA + 6
    mov al, 0xb0
    out dx, al
    mov dx, ATA + 1
.regs1:
    in al, dx
    inc dx
    cmp dx, ATA + 8
    jne .regs1
    mov dx, ALTST
    in al, dx

; --- IRQ 14 through the PIC pair: held back by nIEN, raised without it ------------------------
    mov al, 0x11                ; both PICs initialised again: IRR cleared
    out 0x20, al
    out 0xa0, al
    mov al, 0x08
    out 0x21, al
    mov al, 0x70
    out 0xa1, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x02
    out 0xa1, al
    mov al, 0x01
    out 0x21, al
    out 0xa1, al
    mov al, 0xff                ; everything masked (IRR still records requests)
    out 0x21, al
    out 0xa1, al
    mov al, 0x0a                ; OCW3: port 0xa0 reads the slave's IRR
    out 0xa0, al
    in al, 0xa0
    mov dx, ATA + 6             ; device 0 again
    mov al, 0xa0
    out dx, al
    mov dx, ALTST               ; nIEN: no interrupt
    mov al, 0x02
    out dx, al
    mov dx, STATUS
    mov al, 0xe7                ; FLUSH CACHE
    out dx, al
    call wait_alt
    in al, 0xa0
    mov dx, ALTST
    xor al, al
    out dx, al
    mov dx, STATUS
    mov al, 0xe7
    out dx, al
    call wait_alt
    in al, 0xa0                 ; IRQ 14 requested
    mov dx, STATUS              ; the status read acknowledges the drive's interrupt
    in al, dx

    mov al, 0x33
    out 0xf4, al
    hlt

; Polls the alternate status (no acknowledge) until BSY clears.
wait_alt:
    mov dx, ALTST
.poll:
    in al, dx
    test al, 0x80
    jnz .poll
    ret

; Sets up an LBA28 command: BX = LBA (< 65536), CL = count, CH = command.
issue_lba:
    mov dx, ATA + 2
    mov al, cl
    out dx, al
    inc dx
    mov al, bl
    out dx, al
    inc dx
    mov al, bh
    out dx, al
    inc dx
    xor al, al
    out dx, al
    inc dx
    mov al, 0xe0
    out dx, al
    inc dx
    mov al, ch
    out dx, al
    ret

; Polls status until BSY clears (QEMU's BSY reads are dropped by the test); returns it in AL.
wait_ready:
    mov dx, STATUS
.poll:
    in al, dx
    test al, 0x80
    jnz .poll
    ret

; As wait_ready, then prints '!' unless DRQ is set without ERR.
wait_drq:
    call wait_ready
    and al, 0x09
    cmp al, 0x08
    je .ok
    push ax
    mov al, '!'
    call print_chr
    pop ax
.ok:
    ret

; Reads count, LBA low/mid/high, device and status (the address after the last transfer).
show_taskfile:
    push cx
    mov dx, ATA + 2
    mov cx, 6
.r:
    in al, dx
    inc dx
    loop .r
    pop cx
    ret

%include "print.inc"

msg_capacity:  db 'IDENTIFY sectors 0x', 0
msg_sum:       db 'read checksum 0x', 0
msg_write_ok:  db 'write read-back ok', 13, 10, 0
msg_write_bad: db 'write read-back BAD', 13, 10, 0
msg_crlf:      db 13, 10, 0
