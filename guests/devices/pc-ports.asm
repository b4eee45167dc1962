; Drives the PC's legacy devices the way firmware does, for the QEMU differential in
; test/devices/pc-guests.test.ts: the PIC pair through ICW1-4 and OCW1-3 and the ELCR, the PIT
; through control words, read-back (status) and the counter-latch command, port 0x61, the RTC
; through register B (SET, BCD/binary, 12/24 h) with the clock frozen, CMOS RAM, the i8042's
; self-test and command byte, the POST port, and PCI configuration mechanism #1 (a bus-0 scan,
; class codes, the IDE function's bus-master BAR sized and restored). Everything it reads is
; deterministic except the running PIT counts and port 0x61's OUT bit, which the test masks.
; One vCPU, interrupts off. Ends with a write of 0x21 to isa-debug-exit (status 0x43).
bits 16
org 0x7c00

    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    cld

; --- 8259A pair: the BIOS's init (master 0x08, slave 0x70), masks, ISR reads, EOIs ---------
    mov al, 0x11                ; ICW1: edge, cascade, ICW4
    out 0x20, al
    out 0xa0, al
    mov al, 0x08                ; ICW2: vector bases
    out 0x21, al
    mov al, 0x70
    out 0xa1, al
    mov al, 0x04                ; ICW3: slave on IRQ 2 / slave id 2
    out 0x21, al
    mov al, 0x02
    out 0xa1, al
    mov al, 0x01                ; ICW4: 8086 mode
    out 0x21, al
    out 0xa1, al
    mov al, 0xfb                ; OCW1: everything masked but the cascade
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
    in al, 0x21
    in al, 0xa1
    mov al, 0x0b                ; OCW3: read ISR
    out 0x20, al
    out 0xa0, al
    in al, 0x20
    in al, 0xa0
    mov al, 0x20                ; OCW2: non-specific EOI with nothing in service
    out 0x20, al
    mov al, 0x62                ; OCW2: specific EOI for IRQ 2
    out 0x20, al
    in al, 0x20
    mov dx, 0x4d0               ; master ELCR: all level, IRQ 0-2 stay edge (0x4d1: see README)
    mov al, 0xff
    out dx, al
    in al, dx
    mov al, 0x20                ; IRQ 5 level
    out dx, al
    in al, dx

; --- 8254 PIT -----------------------------------------------------------------------------
    mov al, 0x30                ; counter 0: lo/hi, mode 0
    out 0x43, al
    mov al, 0xff
    out 0x40, al
    out 0x40, al                ; 0xffff: OUT stays low for 55 ms
    mov al, 0x76                ; counter 1: lo/hi, mode 3
    out 0x43, al
    mov al, 0x00
    out 0x41, al
    mov al, 0x80
    out 0x41, al
    mov al, 0xe6                ; read-back: status of counters 0 and 1
    out 0x43, al
    in al, 0x40
    in al, 0x41
    mov al, 0x94                ; counter 2: LSB only, mode 2 (replaced below)
    out 0x43, al
    mov al, 0xb4                ; counter 2: lo/hi, mode 2, count 0xf000
    out 0x43, al
    xor al, al
    out 0x42, al
    mov al, 0xf0
    out 0x42, al
    mov al, 0x01                ; gate counter 2 on, speaker off
    out 0x61, al
    mov al, 0x80                ; counter-latch command, counter 2
    out 0x43, al
    in al, 0x42                 ; (time dependent: masked by the test)
    mov bl, al
    in al, 0x42
    mov bh, al
    mov al, 0xd8                ; read-back: latch count of counter 2 only
    out 0x43, al
    in al, 0x42
    mov cl, al
    in al, 0x42
    mov ch, al
    in al, 0x43                 ; write-only: reads 0
    mov si, msg_pit_bad         ; a later latch never shows a larger count (no wrap in 55 ms)
    cmp cx, bx
    ja .pit_report
    cmp bx, 0xf000
    ja .pit_report
    mov si, msg_pit_ok
.pit_report:
    call print_str

; --- CMOS/RTC: frozen under SET, formats, RAM ---------------------------------------------
    mov al, 0x0b
    out 0x70, al
    mov al, 0x82                ; SET, 24 h, BCD
    out 0x71, al
    in al, 0x71
    mov al, 0x0a
    out 0x70, al
    in al, 0x71                 ; 0x26 (no UIP while SET)
    mov si, rtc_set_bcd
    call rtc_write_clock
    call rtc_read_clock
    mov al, 0x0b
    out 0x70, al
    mov al, 0x84                ; SET, 12 h, binary (no conversion while SET)
    out 0x71, al
    mov si, rtc_set_bin12
    call rtc_write_clock
    call rtc_read_clock
    mov al, 0x0c
    out 0x70, al
    in al, 0x71
    mov al, 0x8d                ; NMI-disable bit + register D
    out 0x70, al
    in al, 0x71
    mov al, 0x40                ; battery RAM reads back
    out 0x70, al
    mov al, 0xa5
    out 0x71, al
    in al, 0x71
    mov al, 0x7f
    out 0x70, al
    mov al, 0x3c
    out 0x71, al
    in al, 0x71
    in al, 0x70                 ; the index port reads 0xff

; --- i8042 --------------------------------------------------------------------------------
    in al, 0x64
    mov al, 0xaa                ; self-test
    out 0x64, al
    in al, 0x64
    in al, 0x60
    in al, 0x64
    mov al, 0x20                ; read the command byte
    out 0x64, al
    in al, 0x60
    mov al, 0x60                ; write the command byte
    out 0x64, al
    mov al, 0x47
    out 0x60, al
    in al, 0x64
    mov al, 0x20
    out 0x64, al
    in al, 0x60
    mov al, 0xd0                ; read the output port
    out 0x64, al
    in al, 0x60

; --- POST codes ---------------------------------------------------------------------------
    mov al, 0x11
    out 0x80, al
    mov al, 0x22
    out 0x80, al
    in al, 0x80

; --- PCI configuration mechanism #1 -------------------------------------------------------
    mov dx, 0xcf8
    mov eax, 0x80000000
    out dx, eax
    in eax, dx                  ; the latch reads back
    mov ebx, 0x80000000         ; scan 00:00.0 - 00:03.7, vendor/device
.scan:
    mov dx, 0xcf8
    mov eax, ebx
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    add ebx, 0x100
    cmp ebx, 0x80002000
    jb .scan
    mov ebx, 0x80000008         ; class/revision and header type of the functions that exist
    call pci_show
    mov ebx, 0x80000808
    call pci_show
    mov ebx, 0x80000908
    call pci_show
    mov ebx, 0x80000b08
    call pci_show
    mov dx, 0xcf8               ; the IDE function: byte and word reads of its IDs
    mov eax, 0x80000900
    out dx, eax
    mov dx, 0xcfc
    in al, dx
    mov dx, 0xcfe
    in ax, dx
    mov dx, 0xcf8               ; BAR4: size it, then restore
    mov eax, 0x80000920
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    mov esi, eax
    mov eax, 0xffffffff
    out dx, eax
    in eax, dx
    mov eax, esi
    out dx, eax
    in eax, dx
    mov dx, 0xcf8               ; another bus and a disabled latch read all ones
    mov eax, 0x80010000
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    mov dx, 0xcf8
    xor eax, eax
    out dx, eax
    mov dx, 0xcfc
    in eax, dx

    mov al, 0x21
    out 0xf4, al
    hlt

; Writes the seven clock registers 0, 2, 4, 6, 7, 8, 9 from DS:SI.
rtc_write_clock:
    mov di, rtc_regs
    mov cx, 7
.w:
    mov al, [di]
    out 0x70, al
    lodsb
    out 0x71, al
    inc di
    loop .w
    ret

rtc_read_clock:
    mov si, rtc_regs
    mov cx, 7
.r:
    lodsb
    out 0x70, al
    in al, 0x71
    loop .r
    ret

; Reads dword EBX (class/revision) and EBX+4 (header type) of a function.
pci_show:
    mov dx, 0xcf8
    mov eax, ebx
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    mov dx, 0xcf8
    lea eax, [ebx + 4]
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    ret

%include "print.inc"

rtc_regs:      db 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09
rtc_set_bcd:   db 0x45, 0x30, 0x17, 0x03, 0x21, 0x11, 0x23
rtc_set_bin12: db 59, 5, 0x80 | 11, 7, 31, 12, 99
msg_pit_ok:    db 'PIT latch ok', 13, 10, 0
msg_pit_bad:   db 'PIT latch BAD', 13, 10, 0
