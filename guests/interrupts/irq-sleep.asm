; irq-sleep: vCPU 0 asks the test interrupt controller (test/e2e/irq-testdev.ts at 0xe8) for
; interrupt `vector` `delay_us` microseconds from now, then waits for it with sti; hlt. Its
; handler (vector 0x40 only) writes 0x40 to the test device (0xe0). After the wake-up vCPU 0
; ends the run with isa-debug-exit 7, or with `finish` = 1 by cli; hlt. Every other vCPU sleeps
; in sti; hlt for good: interrupts go to vCPU 0 only.
; The three parameters are the last bytes of the image, patched by test/e2e/halt-wait.test.ts.
bits 16
org 0x7c00

TESTDEV    equ 0xe0
IRQ_DEV    equ 0xe8
DEBUG_EXIT equ 0xf4

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov eax, 1
    cpuid
    shr ebx, 24                 ; initial APIC ID = vCPU index
    jz .bsp
    sti
.ap:
    hlt
    jmp .ap
.bsp:
    mov word [0x40 * 4], handler
    mov word [0x40 * 4 + 2], 0
    mov eax, [delay_us]
    out IRQ_DEV + 4, eax
    mov al, [vector]
    out IRQ_DEV + 1, al
    sti
    hlt
    cli
    cmp byte [finish], 1
    je .halt
    mov al, 7
    out DEBUG_EXIT, al
.halt:
    hlt

handler:
    push ax
    mov ax, 0x40
    out TESTDEV, ax
    pop ax
    iret

delay_us: dd 2000
vector:   db 0x40
finish:   db 0
