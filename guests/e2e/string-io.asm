; string-io: INS/OUTS with and without REP, DF=1, REP with a zero count, 16-bit REP ignoring the
; top half of ECX, `a32 rep outsb` using ECX/ESI (ECX = 0x10000 with CX = 0), segment overrides
; on OUTS (es/fs), and INS writing ES:DI even under a DS prefix. Registers after each step are
; stored at 0000:0600 (layout in test/e2e/string-io.test.ts); text goes to the UART.
; Ends by writing 0x02 to isa-debug-exit (QEMU status 5).
bits 16
org 0x7c00

RESULTS equ 0x600
UART    equ 0x3f8
TESTDEV equ 0xe0

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    mov sp, 0x7c00
    cld

    ; (a) rep outsb to the UART
    mov dx, UART
    mov si, msg_a
    mov cx, msg_a_len
    rep outsb
    mov [RESULTS + 0x00], si            ; msg_a + msg_a_len
    mov [RESULTS + 0x02], cx            ; 0

    ; (b) DF=1: the text is stored backwards and printed from its last byte down
    std
    mov si, msg_b + msg_b_len - 1
    mov cx, msg_b_len
    rep outsb
    cld
    mov [RESULTS + 0x04], si            ; msg_b - 1

    ; (c) REP with CX=0: no access, no exit, SI unchanged
    mov si, msg_a
    xor cx, cx
    rep outsb
    mov [RESULTS + 0x06], si            ; msg_a
    ; ... and with CX=0 but ECX != 0 under 16-bit addressing: still nothing
    mov ecx, 0x00070000
    rep outsb
    mov [RESULTS + 0x08], ecx           ; 0x00070000

    ; (d) 16-bit REP counts CX only: the top half of ECX is left alone
    mov si, msg_d
    mov ecx, 0xabcd0000 + msg_d_len
    rep outsb
    mov [RESULTS + 0x0c], ecx           ; 0xabcd0000

    ; (e) a32 rep outsb counts ECX and walks ESI
    mov esi, msg_e
    mov ecx, msg_e_len
    a32 rep outsb
    mov [RESULTS + 0x10], esi           ; msg_e + msg_e_len
    mov [RESULTS + 0x14], ecx           ; 0
    ; CX = 0 but ECX = 0x10000: 65536 bytes (0000:0000-FFFF) to the test device
    mov dx, TESTDEV
    xor esi, esi
    mov ecx, 0x10000
    a32 rep outsb
    mov [RESULTS + 0x18], esi           ; 0x10000
    mov [RESULTS + 0x1c], ecx           ; 0

    ; (f) segment overrides on OUTS: DS=0, so without the override these read the IVT (zeros)
    mov dx, UART
    mov ax, 0x07c0
    mov es, ax
    mov fs, ax
    mov si, msg_f - 0x7c00
    mov cx, msg_f_len
    es rep outsb
    mov si, msg_g - 0x7c00
    mov cx, msg_g_len
    fs rep outsb
    mov si, msg_h - 0x7c00
    es outsb                            ; non-REP: one element each
    es outsb
    mov [RESULTS + 0x26], si            ; msg_h - 0x7c00 + 2

    ; (g) INS writes ES:DI, even under a DS prefix (DS=0, ES=0x0090)
    mov ax, 0x0090
    mov es, ax
    mov dx, TESTDEV
    mov eax, 0x44434241                 ; "ABCD"
    out dx, eax
    mov di, 0x10
    mov cx, 4
    ds rep insb                         ; 0910-0913: "AAAA"; 0000:0010 (IVT) untouched
    mov [RESULTS + 0x20], di            ; 0x14
    insd                                ; 0914-0917: "ABCD"
    mov [RESULTS + 0x22], di            ; 0x18
    std
    mov di, 0x1c
    mov cx, 3
    rep insw                            ; 091c, 091a, 0918: "AB" each
    cld
    mov [RESULTS + 0x24], di            ; 0x16
    mov byte [es:0x1e], 10
    ; print ES:0010-001E with an ES-overridden REP OUTSB
    mov dx, UART
    mov si, 0x10
    mov cx, 15
    es rep outsb                        ; "AAAAABCDABABAB\n"

    mov al, 0x02
    out 0xf4, al
    hlt

msg_a: db 'rep outsb', 10
msg_a_len equ $ - msg_a
msg_b: db 10, '1=FD'
msg_b_len equ $ - msg_b
msg_d: db '16', 10
msg_d_len equ $ - msg_d
msg_e: db 'a32', 10
msg_e_len equ $ - msg_e
msg_f: db 'es', 10
msg_f_len equ $ - msg_f
msg_g: db 'fs', 10
msg_g_len equ $ - msg_g
msg_h: db '!', 10
