; io-forms: every non-string IN/OUT form (imm8 and DX port, 8/16/32-bit, in and out).
; The test device at 0xe0 latches what is written and reads it back at the same width; each
; value read is stored at 0000:0600 (see test/e2e/io-forms.test.ts for the layout). An
; unassigned port reads all ones; the UART scratch register (0x3ff) latches, its LSR reads 0x60.
; Ends by writing 0x01 to isa-debug-exit (QEMU status 3).
bits 16
org 0x7c00

RESULTS equ 0x600

%include "real-mode.inc"

start:
    flat_real_mode
    mov di, RESULTS

    ; imm8 port forms, write then read back at the same width
    mov al, 0x5a
    out 0xe0, al
    in al, 0xe0
    stosb                       ; +0x00: 5a
    mov ax, 0xbeef
    out 0xe0, ax
    in ax, 0xe0
    stosw                       ; +0x01: beef
    mov eax, 0xcafef00d
    out 0xe0, eax
    in eax, 0xe0
    stosd                       ; +0x03: cafef00d

    ; DX port forms
    mov dx, 0xe0
    mov al, 0xa5
    out dx, al
    in al, dx
    stosb                       ; +0x07: a5
    mov ax, 0x1234
    out dx, ax
    in ax, dx
    stosw                       ; +0x08: 1234
    mov eax, 0x89abcdef
    out dx, eax
    in eax, dx
    stosd                       ; +0x0a: 89abcdef

    ; an unassigned port: all ones at every width, writes dropped
    mov dx, 0x300
    in al, dx
    stosb                       ; +0x0e: ff
    in ax, dx
    stosw                       ; +0x0f: ffff
    in eax, dx
    stosd                       ; +0x11: ffffffff
    out dx, eax

    ; UART scratch register and line status register
    mov dx, 0x3ff
    mov al, 0x42
    out dx, al
    in al, dx
    stosb                       ; +0x15: 42
    mov dx, 0x3fd
    in al, dx
    stosb                       ; +0x16: 60

    ; report over the serial line
    mov si, msg
    call print_str
    mov eax, [RESULTS + 0x03]
    call print_hex32
    mov al, ' '
    call print_chr
    mov eax, [RESULTS + 0x0a]
    call print_hex32
    mov al, ' '
    call print_chr
    mov eax, [RESULTS + 0x11]
    call print_hex32
    mov al, 10
    call print_chr

    mov al, 0x01
    out 0xf4, al
    hlt

; --- serial helpers ---
%include "uart-print.inc"

msg: db 'io-forms ', 0
