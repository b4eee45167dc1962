; masked-hlt: a guest that can never be woken. vCPU 0 programs the 8259A pair with every input
; masked but IRQ 4 (COM1, whose UART has its interrupts off and nothing to receive), starts PIT
; counter 0 as a rate generator (so a device timer stays armed: the PIT keeps ticking into the
; masked IRQ 0) and the RTC's periodic interrupt (IRQ 8, masked on the slave), then waits with
; sti; hlt. No unmasked input has a source that can fire, so the run must end as halted under
; the host clock and under the virtual clock (where vCPU 0 would otherwise skip from one PIT
; deadline to the next forever). POST 0x5a marks that it got to the HLT. Other vCPUs end at once
; (cli; hlt).
bits 16
org 0x7c00

%include "pic-init.inc"
%include "boot.inc"

start:
    BOOT_VCPU0_ONLY done
    PIC_INIT 0xef, 0xff             ; IRQ 4 open, everything else masked
    mov al, 0x34                    ; counter 0, LSB then MSB, mode 2, binary
    out 0x43, al
    mov al, 0xa9                    ; 1193: about 1 ms
    out 0x40, al
    mov al, 0x04
    out 0x40, al
    mov al, 0x8b                    ; RTC register B (NMI off while indexing)
    out 0x70, al
    in al, 0x71
    or al, 0x40                     ; PIE: periodic interrupt at register A's rate
    mov ah, al
    mov al, 0x8b
    out 0x70, al
    mov al, ah
    out 0x71, al
    mov al, 0x5a
    out 0x80, al
    sti
    hlt                             ; nothing can wake this
    mov al, 0xee                    ; never reached
    out 0xf4, al
done:
    cli
    hlt
