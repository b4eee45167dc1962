; Sets COM1 up first (its line starts delivering once the guest looks for input), reads the RTC's
; date the way firmware does (wait for UIP to clear, then the BCD registers; then
; the hour again in 12-hour form), prints it, and echoes what COM1 receives with letter case
; swapped until a '.' arrives: COM1 at 115200 8N1 with its FIFOs on, polling LSR.DR. For
; test/devices/cli-machine.test.ts (piosim run --rtc-base ... --serial-in FILE). Ends with 0x44 at 0xf4.
bits 16
org 0x7c00

COM1 equ 0x3f8

    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    cld

    mov dx, COM1 + 3            ; 115200 8N1: divisor 1 under DLAB
    mov al, 0x80
    out dx, al
    mov dx, COM1
    mov al, 1
    out dx, al
    inc dx
    xor al, al
    out dx, al
    mov dx, COM1 + 3
    mov al, 0x03
    out dx, al
    mov dx, COM1 + 2            ; FIFOs on and cleared, trigger 14
    mov al, 0xc7
    out dx, al
    mov dx, COM1 + 4            ; DTR, RTS, OUT2
    mov al, 0x0b
    out dx, al
.uip:
    mov al, 0x0a
    out 0x70, al
    in al, 0x71
    test al, 0x80               ; update in progress: the registers may be changing
    jnz .uip
    mov si, date_regs
    mov cx, 5
.date:
    lodsb
    out 0x70, al
    in al, 0x71
    call print_bcd
    loop .date
    mov al, ' '
    call print_chr
    mov al, 0x0b                ; 12-hour form: bit 7 of the hour is PM
    out 0x70, al
    mov al, 0x00
    out 0x71, al
    mov al, 0x04
    out 0x70, al
    in al, 0x71
    call print_bcd
    mov si, crlf
    call print_str

.next:
    mov dx, COM1 + 5
.poll:
    in al, dx
    test al, 0x01
    jz .poll
    mov dx, COM1
    in al, dx
    cmp al, '.'
    je .done
    mov ah, al                  ; swap the case of letters
    or ah, 0x20
    cmp ah, 'a'
    jb .out
    cmp ah, 'z'
    ja .out
    xor al, 0x20
.out:
    call print_chr
    jmp .next
.done:
    mov si, crlf
    call print_str
    mov al, 0x44
    out 0xf4, al
    hlt

print_bcd:                      ; AL as two digits
    push ax
    shr al, 4
    add al, '0'
    call print_chr
    pop ax
    and al, 0x0f
    add al, '0'
    jmp print_chr

%include "print.inc"

date_regs: db 0x32, 0x09, 0x08, 0x07, 0x04   ; century, year, month, day, hour
crlf:      db 13, 10, 0
