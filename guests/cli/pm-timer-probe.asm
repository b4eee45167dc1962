; Reads the ACPI PM timer at 0x608 once and says on COM1 whether a timer answered, then writes 0
; to isa-debug-exit (status 1). piosim's machine has its in-vCPU PM timer there; QEMU's PC has
; one only once firmware programs the PIIX4's PM base, which nothing does without a BIOS, so QEMU
; reads all ones. `piosim compare-qemu` therefore reports this guest as differing: same end,
; serial "timer" against "none", and the 0x608 read (test/cli/compare-qemu.test.ts).
bits 16
org 0x7c00
    mov dx, 0x608
    in eax, dx
    mov si, none
    cmp eax, 0xffffffff
    je .print
    mov si, timer
.print:
    mov dx, 0x3f8
.next:
    lodsb
    test al, al
    jz .done
    out dx, al
    jmp .next
.done:
    mov al, 0
    out 0xf4, al
    hlt

none:  db "none", 13, 10, 0
timer: db "timer", 13, 10, 0
