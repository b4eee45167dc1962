; string-batch: long REP INS/OUTS runs that cross 4 KiB guest pages in both directions, for
; comparing the --string-batch modes (page, kvm, 1): the guest-visible result must be the same in
; every mode, only the number of exits differs (test/e2e/string-batch.test.ts computes them).
;   (1) rep outsb, 5000 bytes from linear 0x9100 upwards        (to the test device)
;   (2) rep insb, 3000 bytes to linear 0xaf00 upwards
;   (3) std; rep outsw, 1000 words from linear 0xa0fe downwards
;   (4) std; rep insd, 700 dwords to linear 0xc008 downwards (ending at DI 0x0518)
;   (5) one non-REP outsb, then REP OUTSB and REP INSW with CX=0 (no exit)
; Final SI/DI/CX are stored at 0000:0600. Ends by writing 0x03 to isa-debug-exit.
bits 16
org 0x7c00

TESTDEV equ 0xe0

%include "real-mode.inc"

start:
    flat_real_mode

    ; fill 0900:0000-1FFF (linear 0x9000-0xafff) with byte i = 3 + 7*i
    mov ax, 0x0900
    mov es, ax
    xor di, di
    mov cx, 0x2000
    mov al, 3
.fill:
    stosb
    add al, 7
    loop .fill

    mov ax, 0x0900
    mov ds, ax
    mov dx, TESTDEV

    ; (1)
    mov si, 0x0100
    mov cx, 5000
    rep outsb
    ; (2)
    mov ax, 0x0a00
    mov es, ax
    mov di, 0x0f00
    mov cx, 3000
    rep insb
    ; (3)
    std
    mov si, 0x10fe
    mov cx, 1000
    rep outsw
    ; (4)
    mov ax, 0x0b00
    mov es, ax
    mov di, 0x1008
    mov cx, 700
    rep insd
    cld
    ; (5)
    outsb
    xor cx, cx
    rep outsb
    rep insw

    xor ax, ax
    mov ds, ax
    mov [0x600], si                     ; 0x092f
    mov [0x602], di                     ; 0x0518
    mov [0x604], cx                     ; 0

    mov al, 0x03
    out 0xf4, al
    hlt
