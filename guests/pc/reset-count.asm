; reset-count: a guest that reboots itself RESETS times and counts its boots in CMOS RAM, which
; a PC keeps across a reset (the chip is battery-backed; QEMU's rtc_reset keeps it too).
;
; Each boot vCPU 0:
;  - checks that RAM came back from the guest image: `marker` is 0 in the image and set to 1
;    below, so a boot that finds it set ran on the previous boot's RAM (exit value 0xee);
;  - reads the boot count from CMOS byte COUNT_AT (0 at power-on), adds one and writes it back;
;  - prints "boot N" on COM1;
;  - while N <= RESETS, asks for a reset: odd boots with the i8042's pulse command 0xFE, even
;    ones by writing the output port (command 0xD1) with bit 0 (the reset line) clear;
;  - after the last boot, ends through isa-debug-exit with the boot count (RESETS + 1).
; Other vCPUs end at once (cli; hlt); a reset brings them back too.
bits 16
org 0x7c00

RESETS     equ 3
COUNT_AT   equ 0x70                 ; a CMOS byte no BIOS or QEMU uses

%include "boot.inc"

start:
    BOOT_VCPU0_ONLY other_vcpu
    cmp byte [marker], 0
    jne stale_ram
    mov byte [marker], 1
    mov al, COUNT_AT
    out 0x70, al
    in al, 0x71
    inc al
    mov bl, al                      ; BL: this boot's number
    mov al, COUNT_AT
    out 0x70, al
    mov al, bl
    out 0x71, al
    mov si, boot_text
    call print_str
    mov al, bl
    add al, '0'
    call print_chr
    mov al, 13
    call print_chr
    mov al, 10
    call print_chr
    cmp bl, RESETS
    ja last_boot
    call wait_input_empty
    test bl, 1
    jz by_output_port
    mov al, 0xfe                    ; pulse the reset line
    out 0x64, al
    jmp $                           ; the reset takes effect here
by_output_port:
    mov al, 0xd1                    ; write output port: the next data byte
    out 0x64, al
    call wait_input_empty
    mov al, 0xdc                    ; A20 on, bit 0 (reset) clear
    out 0x60, al
    jmp $

last_boot:
    mov al, bl
    out 0xf4, al                    ; isa-debug-exit: the boot count
    jmp $

stale_ram:
    mov al, 0xee
    out 0xf4, al
    jmp $

other_vcpu:
    hlt                             ; IF=0: this vCPU ends until the next reset

wait_input_empty:
    in al, 0x64
    test al, 0x02                   ; input buffer full?
    jnz wait_input_empty
    ret

print_chr:                          ; AL on COM1 (its THR is always ready here and on QEMU)
    push dx
    mov dx, 0x3f8
    out dx, al
    pop dx
    ret

print_str:                          ; DS:SI, zero-terminated
    lodsb
    test al, al
    jz .done
    call print_chr
    jmp print_str
.done:
    ret

boot_text: db "boot ", 0
marker:    db 0
