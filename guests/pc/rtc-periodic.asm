; rtc-periodic: the RTC's periodic interrupt driven as a PC driver does. vCPU 0 programs the
; 8259A pair (IRQ 2 on the master and IRQ 8 on the slave unmasked, IRQ 8 at vector 0x28), sets
; register A's rate to RATE (6: 1024 Hz), sets PIE in register B, and waits for IRQ 8 with
; sti; hlt until its handler has run TICKS times. The handler reads register C (which
; acknowledges the interrupt and lowers IRQ 8), writes its count to the time probe (PROBE),
; and sends EOIs to the slave and the master. Probe write 0 just before PIE is set gives the
; test the start of the periodic count. Then vCPU 0 clears PIE and ends with cli; hlt.
bits 16
org 0x7c00

PROBE      equ 0xe4
RATE       equ 6
TICKS      equ 10
CMOS_INDEX equ 0x70
CMOS_DATA  equ 0x71

%include "pic-init.inc"
%include "boot.inc"

start:
    BOOT_VCPU0_ONLY done
    mov word [0x28 * 4], irq8
    mov word [0x28 * 4 + 2], 0
    PIC_INIT 0xfb, 0xfe
    mov al, 0x8a                    ; register A, NMI disabled while we program
    out CMOS_INDEX, al
    mov al, 0x20 | RATE             ; 32.768 kHz divider, rate RATE
    out CMOS_DATA, al
    mov al, 0x8b                    ; register B
    out CMOS_INDEX, al
    in al, CMOS_DATA
    or al, 0x40                     ; PIE
    mov ah, al
    mov al, 0x8b
    out CMOS_INDEX, al
    xor al, al
    out PROBE, al                   ; probe 0: three instructions before PIE is set
    mov al, ah
    out CMOS_DATA, al               ; the periodic count starts here
wait_irq:
    sti
    hlt
    cli
    cmp word [ticks], TICKS
    jb wait_irq
    mov al, 0x8b                    ; clear PIE again
    out CMOS_INDEX, al
    in al, CMOS_DATA
    and al, 0xbf
    mov ah, al
    mov al, 0x8b
    out CMOS_INDEX, al
    mov al, ah
    out CMOS_DATA, al
done:
    hlt                             ; IF=0: this vCPU ends

irq8:
    push ax
    mov al, 0x0c                    ; register C: reading it acknowledges the interrupt
    out CMOS_INDEX, al
    in al, CMOS_DATA
    inc word [ticks]
    mov ax, [ticks]
    out PROBE, al
    mov al, 0x20                    ; non-specific EOI, slave then master
    out 0xa0, al
    out 0x20, al
    pop ax
    iret

ticks: dw 0
