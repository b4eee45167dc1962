; irq-wait: external interrupts from the test interrupt controller (test/e2e/irq-testdev.ts at
; port 0xe8), delivered through handlers this guest installs in the real-mode IVT.
;  1. sti; hlt waits for an interrupt the controller raises 2000 us later (a device timer);
;     the handler returns to the instruction after HLT.
;  2. An interrupt raised with IF=0 waits; STI's shadow lets the next instruction run first.
;  3. POPF that sets IF takes the waiting interrupt right after it (no shadow).
;  4. With IF=1, an OUT that raises INTR is followed by the interrupt at once.
;  5. The count of acknowledged interrupts, read back from the controller.
; Every handler reports four words to the test device (port 0xe0): its vector, BX at delivery,
; the pushed IP and the pushed FLAGS; the main code reports a marker word after each step.
; test/e2e/interrupts.test.ts checks the reports. Ends with sti; hlt and nothing left to wake
; it, which ends the run as halted. (Not in guests/e2e, which QEMU also runs: QEMU has no such
; controller.)
bits 16
org 0x7c00

TESTDEV    equ 0xe0
IRQ_DEV    equ 0xe8             ; +0 raise now, +1 raise after the delay, +4 delay in us (dword)

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov word [0x40 * 4], irq40
    mov word [0x40 * 4 + 2], 0
    mov word [0x41 * 4], irq41
    mov word [0x41 * 4 + 2], 0
    mov word [0x42 * 4], irq42
    mov word [0x42 * 4 + 2], 0
    mov word [0x43 * 4], irq43
    mov word [0x43 * 4 + 2], 0

; 1. sti; hlt until a delayed interrupt
    mov bx, 0x1111
    mov eax, 2000
    out IRQ_DEV + 4, eax
    mov al, 0x40
    out IRQ_DEV + 1, al
    sti
    hlt
after_hlt:
    cli
    mov ax, 0xa1
    out TESTDEV, ax

; 2. IF=0 holds the interrupt back; STI's shadow runs one more instruction
    xor bx, bx
    mov al, 0x41
    out IRQ_DEV, al
    mov cx, 100
.spin:
    loop .spin
    mov ax, 0xa2
    out TESTDEV, ax             ; before the interrupt: IF is still 0
    sti
    mov bx, 0x2222              ; in STI's shadow: runs before the interrupt
after_sti:
    cli

; 3. POPF setting IF: the interrupt comes right after it
    xor bx, bx
    mov al, 0x42
    out IRQ_DEV, al
    pushf
    pop ax
    or ax, 0x0200
    push ax
    popf
after_popf:
    mov bx, 0x3333              ; runs after the interrupt
    cli
    mov ax, 0xa3
    out TESTDEV, ax

; 4. IF=1: the OUT that raises INTR is followed by the interrupt
    sti
    mov bx, 0x4444
    mov al, 0x43
    out IRQ_DEV, al
after_out:
    mov bx, 0x5555
    cli
    mov ax, 0xa4
    out TESTDEV, ax

; 5. interrupts acknowledged: 4
    xor ax, ax
    in al, IRQ_DEV
    out TESTDEV, ax

; nothing left that could interrupt: the run ends here as halted
    sti
    hlt
    mov ax, 0xdead              ; never reached
    out TESTDEV, ax
    cli
    hlt

irq40:
    push ax
    mov ax, 0x40
    jmp report
irq41:
    push ax
    mov ax, 0x41
    jmp report
irq42:
    push ax
    mov ax, 0x42
    jmp report
irq43:
    push ax
    mov ax, 0x43
report:                         ; AX = vector; stack: saved AX, IP, CS, FLAGS
    push bp
    mov bp, sp
    out TESTDEV, ax
    mov ax, bx
    out TESTDEV, ax
    mov ax, [bp + 4]
    out TESTDEV, ax             ; the pushed IP
    mov ax, [bp + 8]
    out TESTDEV, ax             ; the pushed FLAGS
    pop bp
    pop ax
    iret

; Labels the test looks up in the listing-free way: their addresses as the last words of the image.
    dw after_hlt, after_sti, after_popf, after_out
