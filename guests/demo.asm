; piosim demo guest (`npm start`, `piosim demo`).
;
; Every vCPU runs this same code from 0000:7C00. Each one learns its index with CPUID leaf 1
; (EBX[31:24]), waits for its turn, prints "vCPU <n>" over the UART with OUT (polling LSR before
; each byte, as a real driver does) and " reporting\n" with one REP OUTSB, passes the turn on and
; counts itself done with LOCK INC. vCPU 0 then waits for every vCPU, checks the UART scratch
; register and writes the exit value to isa-debug-exit (0xf4); the others HLT. Lines therefore come
; out whole and in vCPU order.
;
; The vCPU count: CPUID leaf 1 EBX[23:16] when EDX.HTT (bit 28) is set and it is nonzero (piosim
; and QEMU set both when there is more than one vCPU); otherwise the byte at `vcpu_count`, 1.
;
; Exit value: 0 = success (QEMU status (0 << 1) | 1 = 1; `piosim demo` reports that as status 0),
; 1 = the UART scratch register did not read back.
;
; nasm -f bin demo.asm -o demo.bin
bits 16
org 0x7c00

COM1         equ 0x3f8
COM1_LSR     equ COM1 + 5
COM1_SCR     equ COM1 + 7
LSR_THRE     equ 0x20
DEBUG_EXIT   equ 0xf4
EXIT_OK      equ 0
EXIT_SCRATCH equ 1
CPUID_HTT    equ 1 << 28
STACK_TOP    equ 0x7000          ; each vCPU gets 256 bytes below this, by index

entry:
    jmp short main
    nop
signature:  db 'PIOSIM-DEMO'
vcpu_count: db 1                 ; the count when CPUID reports none (a single vCPU)

main:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax

    mov eax, 1
    cpuid                        ; EBX[31:24] = vCPU index
    mov ecx, ebx
    shr ecx, 24
    mov bp, cx                   ; BP = my index, kept to the end

    mov ax, bp                   ; a private stack: RAM is shared by every vCPU
    shl ax, 8
    mov sp, STACK_TOP
    sub sp, ax

    xor ax, ax                   ; DI = vCPU count
    mov al, [vcpu_count]
    test edx, CPUID_HTT
    jz .have_count
    shr ebx, 16
    and bx, 0xff
    jz .have_count
    mov ax, bx
.have_count:
    mov di, ax

.wait_turn:                      ; only the vCPU whose turn it is prints
    cmp [turn], bp
    jne .wait_turn

    mov si, prefix               ; "vCPU " one OUT at a time
    mov cx, prefix_len
.prefix_char:
    mov al, [si]
    call putc
    inc si
    loop .prefix_char

    mov ax, bp                   ; the index in decimal: BX = tens, AX = ones
    xor bx, bx
.tens:
    cmp ax, 10
    jb .ones
    sub ax, 10
    inc bx
    jmp .tens
.ones:
    mov cx, ax
    test bx, bx
    jz .ones_digit
    mov al, bl
    add al, '0'
    call putc
.ones_digit:
    mov al, cl
    add al, '0'
    call putc

    cld                          ; the rest of the line in one string exit
    mov si, suffix
    mov cx, suffix_len
    mov dx, COM1
    rep outsb

    inc word [turn]              ; only the turn's owner writes it: no LOCK needed
    lock inc word [done]         ; every vCPU writes it: LOCK makes the increments atomic

    test bp, bp
    jnz park

.wait_all:                       ; vCPU 0 waits for everyone, then ends the VM
    cmp [done], di
    jb .wait_all

    mov dx, COM1_SCR             ; UART self-test: the scratch register reads back
    mov al, 0xa5
    out dx, al
    in al, dx
    cmp al, 0xa5
    mov al, EXIT_OK
    je .exit
    mov al, EXIT_SCRATCH
.exit:
    out DEBUG_EXIT, al
park:
    hlt
    jmp park

; putc: AL = byte. Waits until the UART's transmit holding register is empty, then sends AL.
putc:
    push dx
    push ax
    mov dx, COM1_LSR
.poll:
    in al, dx
    test al, LSR_THRE
    jz .poll
    pop ax
    mov dx, COM1
    out dx, al
    pop dx
    ret

prefix:     db 'vCPU '
prefix_len  equ $ - prefix
suffix:     db ' reporting', 10
suffix_len  equ $ - suffix

align 4
turn:       dw 0                 ; index of the vCPU that may print now
done:       dw 0                 ; vCPUs that have printed
