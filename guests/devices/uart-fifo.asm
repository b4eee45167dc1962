; Drives COM1 as a 16550A driver does, for test/devices/pc-guests.test.ts: the divisor latch
; under DLAB, 8N1, FIFOs on with a trigger level, loopback (MCR -> MSR, THR -> the receive FIFO),
; LSR while the FIFO fills and drains, an overrun of the 16-byte FIFO shown as a line-status
; interrupt in IIR and cleared by reading LSR, the THR-empty interrupt, FIFO clear, and the
; scratch register. IIR is read only with the data interrupt off, so the FIFO timeout (time
; dependent) never shows. Ends with 0x55 at isa-debug-exit (status 0xab).
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

    mov dx, COM1 + 3            ; DLAB: divisor 1 (115200 baud), read back
    mov al, 0x80
    out dx, al
    mov dx, COM1
    mov al, 0x01
    out dx, al
    inc dx
    xor al, al
    out dx, al
    mov dx, COM1
    in al, dx
    inc dx
    in al, dx
    mov dx, COM1 + 3            ; 8N1, DLAB off
    mov al, 0x03
    out dx, al
    in al, dx
    mov dx, COM1 + 2            ; FIFOs on, both cleared, trigger level 14
    mov al, 0xc7
    out dx, al
    in al, dx
    mov dx, COM1 + 4            ; loopback with DTR, RTS, OUT2
    mov al, 0x1b
    out dx, al
    in al, dx
    mov dx, COM1 + 6
    in al, dx

    mov si, text                ; eight bytes through the loop into the receive FIFO
    mov cx, 8
.send8:
    lodsb
    mov dx, COM1
    out dx, al
    loop .send8
    mov dx, COM1 + 5
    in al, dx
    mov cx, 8                   ; drain: LSR before each read
.recv8:
    mov dx, COM1 + 5
    in al, dx
    mov dx, COM1
    in al, dx
    loop .recv8
    mov dx, COM1 + 5
    in al, dx

    mov dx, COM1 + 1            ; line-status and THR-empty interrupts on (data interrupt off)
    mov al, 0x06
    out dx, al
    mov dx, COM1 + 2
    in al, dx                   ; THR empty
    in al, dx                   ; ...acknowledged by that read
    mov cx, 17                  ; one more byte than the FIFO holds: overrun
    mov al, 'a'
.send17:
    mov dx, COM1
    out dx, al
    inc al
    loop .send17
    mov dx, COM1 + 2
    in al, dx                   ; line status outranks THR empty
    mov dx, COM1 + 5
    in al, dx                   ; OE set, cleared by this read
    mov dx, COM1 + 2
    in al, dx
    mov cx, 16
.recv16:
    mov dx, COM1
    in al, dx
    loop .recv16
    mov dx, COM1 + 5
    in al, dx

    mov dx, COM1                ; three bytes in, then FIFO clear (trigger 8): gone
    mov al, 'x'
    out dx, al
    out dx, al
    out dx, al
    mov dx, COM1 + 2
    in al, dx
    mov al, 0x83
    out dx, al
    in al, dx
    mov dx, COM1 + 5
    in al, dx

    mov dx, COM1 + 1            ; interrupts off, loopback off
    xor al, al
    out dx, al
    mov dx, COM1 + 4
    mov al, 0x0b
    out dx, al
    mov dx, COM1 + 6
    in al, dx
    mov dx, COM1 + 7
    mov al, 0xc3
    out dx, al
    in al, dx
    mov dx, COM1 + 2            ; FIFOs off
    xor al, al
    out dx, al
    in al, dx

    mov si, done
.print:
    lodsb
    test al, al
    jz .end
    mov dx, COM1
    out dx, al
    jmp .print
.end:
    mov al, 0x55
    out 0xf4, al
    hlt

text: db 'loopback'
done: db 'uart ok', 13, 10, 0
