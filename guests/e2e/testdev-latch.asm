; testdev-latch: narrow and offset accesses to the test device, compared with QEMU's pc-testdev
; (hw/misc/pc-testdev.c), whose latch is one 32-bit register: an access of n bytes at 0xe0+o
; reads/writes bits [8o, 8o+8n) of it. Expected (QEMU 7.2): 0x123456ab, 0xcdef56ab, 0xcdef, 0xcd.
; Ends by writing 0x05 to isa-debug-exit.
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov eax, 0x12345678
    out 0xe0, eax
    mov al, 0xab
    out 0xe0, al                ; replaces bits 0-7 only
    in eax, 0xe0
    mov [0x600], eax            ; 0x123456ab
    mov ax, 0xcdef
    out 0xe2, ax                ; bits 16-31
    in eax, 0xe0
    mov [0x604], eax            ; 0xcdef56ab
    in ax, 0xe2
    mov [0x608], ax             ; 0xcdef
    in al, 0xe3
    mov [0x60a], al             ; 0xcd
    mov al, 0x05
    out 0xf4, al
    hlt
