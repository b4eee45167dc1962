; exceptions: CPU exceptions delivered through the real-mode IVT to handlers this guest installs.
; #DE (DIV/IDIV by zero or with a quotient too large, AAM 0), #BR (BOUND), #OF (INTO), #BP (INT3)
; and #UD (UD2, LEA with a register operand, LOCK on a register destination), one #UD nested
; inside the #DE handler, and one handler that IRETs to another CS:IP.
;
; Every handler reports its frame to the test device (port 0xe0) as five words: vector, pushed IP,
; pushed CS, pushed FLAGS and SP after the delivery; then it resumes at the far pointer the main
; code left in resume[vector]. A line per exception goes to the UART. test/e2e/exceptions.test.ts
; checks the frames (a fault pushes the faulting instruction's IP, a trap the next one) and the
; per-vector counts; test/qemu/e2e-guests.test.ts runs it in QEMU too. Ends by writing 0x05 to
; isa-debug-exit.
bits 16
org 0x7c00

TESTDEV equ 0xe0
FLAGS0  equ 0x08d7              ; OF SF ZF AF PF CF and bit 1: every arithmetic flag set, IF clear

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    mov word [0 * 4], de_handler
    mov word [0 * 4 + 2], 0
    mov word [3 * 4], bp_handler
    mov word [3 * 4 + 2], 0
    mov word [4 * 4], of_handler
    mov word [4 * 4 + 2], 0
    mov word [5 * 4], br_handler
    mov word [5 * 4 + 2], 0
    mov word [6 * 4], ud_handler
    mov word [6 * 4 + 2], 0

%macro resume_at 2              ; vector, label: where the handler of `vector` returns to
    mov word [resume + %1 * 4], %2
    mov word [resume + %1 * 4 + 2], 0
%endmacro
%macro set_flags 0
    push word FLAGS0
    popf
%endmacro

    ; (1) DIV by zero: AX and DX keep their values
    resume_at 0, .r1
    mov ax, 0x1234
    mov dx, 0x5678
    xor bx, bx
    set_flags
    div bx
.r1:
    out TESTDEV, ax
    mov ax, dx
    out TESTDEV, ax

    ; (2) IDIV r8 with the quotient +128 (does not fit), then -128 (fits: no exception)
    resume_at 0, .r2
    mov ax, 0x0100
    mov cl, 2
    idiv cl
.r2:
    mov ax, 0xff00
    idiv cl
    out TESTDEV, ax

    ; (3) 32-bit DIV with EDX >= ECX (the quotient needs more than 32 bits)
    resume_at 0, .r3
    mov edx, 7
    mov eax, 1
    mov ecx, 7
    div ecx
.r3:

    ; (4) AAM 0
    resume_at 0, .r4
    mov ax, 0x0063
    aam 0
.r4:
    out TESTDEV, ax

    ; (5) BOUND: in range (nothing), then out of range (#BR)
    resume_at 5, .r5
    mov ax, 20
    bound ax, [bounds]
    mov ax, 31
    bound ax, [bounds]
.r5:

    ; (6) INTO with OF set (a trap: the next IP is pushed), INT3 (also a trap)
    resume_at 4, .r6
    set_flags
    into
.r6:
    resume_at 3, .r7
    int3
.r7:

    ; (7) #UD: UD2, LEA with a register operand, LOCK on a register destination
    resume_at 6, .r8
    ud2
.r8:
    resume_at 6, .r9
    db 0x8d, 0xc0               ; lea ax, ax
.r9:
    resume_at 6, .r10
    db 0xf0                     ; LOCK (as a byte: nasm rightly refuses to lock a register form)
    add ax, bx
.r10:

    ; (8) #UD inside the #DE handler: the frames nest
    mov byte [nest], 1
    resume_at 0, .r11
    xor bl, bl
    div bl
.r11:

    ; (9) the #UD handler IRETs to 07C0:(elsewhere - 0x7C00), the same place by another CS
    mov word [resume + 6 * 4], elsewhere - 0x7c00
    mov word [resume + 6 * 4 + 2], 0x07c0
    ud2
    hlt                         ; never reached
elsewhere:
    mov ax, cs
    out TESTDEV, ax
    jmp 0x0000:.back
.back:
    mov si, s_done
    call print_str
    mov al, 0x05
    out 0xf4, al
    hlt

; The #DE handler: in nest mode it first runs UD2 itself, once.
de_handler:
    cmp byte [cs:nest], 0
    je .plain
    mov byte [cs:nest], 0
    mov word [cs:resume + 6 * 4], .plain
    mov word [cs:resume + 6 * 4 + 2], 0
    ud2
.plain:
    push bx
    mov bx, 0
    jmp report_and_resume
bp_handler:
    push bx
    mov bx, 3
    jmp report_and_resume
of_handler:
    push bx
    mov bx, 4
    jmp report_and_resume
br_handler:
    push bx
    mov bx, 5
    jmp report_and_resume
ud_handler:
    push bx
    mov bx, 6
    ; fall through

; BX = vector, the handler's BX pushed above the frame.
report_and_resume:
    push bp
    mov bp, sp                  ; [bp+2] BX, [bp+4] IP, [bp+6] CS, [bp+8] FLAGS
    push ax
    push si
    mov ax, bx
    out TESTDEV, ax
    mov ax, [bp + 4]
    out TESTDEV, ax
    mov ax, [bp + 6]
    out TESTDEV, ax
    mov ax, [bp + 8]
    out TESTDEV, ax
    lea ax, [bp + 4]            ; SP right after the delivery
    out TESTDEV, ax
    mov si, bx
    shl si, 2
    mov ax, [cs:resume + si]
    mov [bp + 4], ax
    mov ax, [cs:resume + si + 2]
    mov [bp + 6], ax
    shl si, 1                   ; names[] holds 8-byte entries
    lea si, [names + si]
    call print_str
    pop si
    pop ax
    pop bp
    pop bx
    iret

%include "uart-print.inc"

s_done: db "done", 10, 0
names:
    db "#DE", 10, 0, 0, 0, 0
    db "#DB", 10, 0, 0, 0, 0
    db "NMI", 10, 0, 0, 0, 0
    db "#BP", 10, 0, 0, 0, 0
    db "#OF", 10, 0, 0, 0, 0
    db "#BR", 10, 0, 0, 0, 0
    db "#UD", 10, 0, 0, 0, 0
align 4
bounds: dw 10, 30               ; BOUND's signed lower and upper limits
nest:   db 0
align 4
resume: times 8 dd 0            ; far pointer (offset, segment) per vector 0-7
