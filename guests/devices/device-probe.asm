; Touches every register of the default devices at every width, for the QEMU differential in
; test/devices/qemu-diff.test.ts: piosim's device trace must equal QEMU's memory_region_ops trace.
; One vCPU. Ends with a write of 0x2a to isa-debug-exit (status 0x55).
bits 16
org 0x7c00

COM1 equ 0x3f8

    xor ax, ax
    mov ds, ax
    mov dx, COM1
%assign r 0
%rep 8                          ; reset values of every UART register
    mov dx, COM1 + r
    in al, dx
%assign r r + 1
%endrep
    mov dx, COM1 + 7            ; scratch reads back
    mov al, 0x5a
    out dx, al
    in al, dx
    mov dx, COM1 + 3            ; DLAB: divisor latch at offsets 0 and 1
    mov al, 0x83
    out dx, al
    mov dx, COM1
    in al, dx
    mov al, 0x01
    out dx, al
    inc dx
    in al, dx
    xor al, al
    out dx, al
    mov dx, COM1
    in al, dx
    mov dx, COM1 + 3
    mov al, 0x03
    out dx, al
    in al, dx
    mov dx, COM1 + 1            ; IER: THR-empty interrupt shows in IIR once
    mov al, 0x02
    out dx, al
    in al, dx
    mov dx, COM1 + 2
    in al, dx
    in al, dx
    mov dx, COM1                ; transmit re-arms it
    mov al, 'A'
    out dx, al
    mov dx, COM1 + 2
    in al, dx
    mov dx, COM1 + 1
    xor al, al
    out dx, al
    mov dx, COM1 + 2            ; FIFOs on: IIR top bits
    mov al, 0x07
    out dx, al
    in al, dx
    mov dx, COM1 + 4            ; loopback: MCR -> MSR, THR -> RBR, LSR.DR
    mov al, 0x1b
    out dx, al
    in al, dx
    mov dx, COM1 + 6
    in al, dx
    mov dx, COM1
    mov al, 'L'
    out dx, al
    mov dx, COM1 + 5
    in al, dx
    mov dx, COM1
    in al, dx
    mov dx, COM1 + 5
    in al, dx
    mov dx, COM1 + 4
    xor al, al
    out dx, al
    mov dx, COM1 + 6
    in al, dx
    mov dx, COM1                ; wide accesses to the byte-wide UART are split
    mov eax, 0x0a0a0a42
    out dx, ax
    mov dx, COM1 + 7
    in al, dx
    mov dx, COM1 + 4
    in ax, dx
    mov dx, COM1 + 4
    in eax, dx

    mov eax, 0xdeadbeef         ; test device: native 1, 2 and 4-byte latch
    out 0xe0, eax
    in eax, 0xe0
    in ax, 0xe0
    in al, 0xe0
    mov ax, 0x1234
    out 0xe0, ax
    in eax, 0xe0
    mov al, 0x7f
    out 0xe0, al
    in eax, 0xe0

    mov dx, 0x2e8               ; an unassigned port (no COM4): all ones
    in al, dx
    in ax, dx
    out dx, al

    mov al, 0x2a
    out 0xf4, al
    hlt
