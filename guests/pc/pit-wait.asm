; pit-wait: the PIT driven as a PC timer. vCPU 0 programs the 8259A pair (IRQ 0 alone
; unmasked, vector 0x20), loads PIT counter 0 in mode 2 (rate generator) with COUNT, then waits
; for IRQ 0 with sti; hlt until its handler has run TICKS times. The handler counts in `ticks`,
; writes the count to the time probe (PROBE, a test device that notes the clock), and sends a
; non-specific EOI. Probe write 0 just before the count loads gives the test the load time. Then vCPU 0 masks IRQ 0 and ends with cli; hlt. Other vCPUs end at once.
bits 16
org 0x7c00

PROBE      equ 0xe4
COUNT      equ 1193                 ; 1193 / 1.193182 MHz = 999.85 us
TICKS      equ 10

%include "pic-init.inc"
%include "boot.inc"

start:
    BOOT_VCPU0_ONLY done
    mov word [0x20 * 4], irq0
    mov word [0x20 * 4 + 2], 0
    PIC_INIT 0xfe, 0xff
    mov al, 0x34                    ; counter 0, LSB then MSB, mode 2, binary
    out 0x43, al
    mov al, COUNT & 0xff
    out 0x40, al
    xor al, al
    out PROBE, al                   ; probe 0: two instructions before the count loads
    mov al, COUNT >> 8
    out 0x40, al                    ; the count loads here: counting starts
wait_irq:
    sti
    hlt
    cli
    cmp word [ticks], TICKS
    jb wait_irq
    mov al, 0xff                    ; mask everything again
    out 0x21, al
done:
    hlt                             ; IF=0: this vCPU ends

irq0:
    push ax
    inc word [ticks]
    mov ax, [ticks]
    out PROBE, al
    mov al, 0x20                    ; non-specific EOI
    out 0x20, al
    pop ax
    iret

ticks: dw 0
