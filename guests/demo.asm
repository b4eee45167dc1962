; piosim demo guest (`npm start`, `piosim demo`).
;
; Every vCPU runs this same code from 0000:7C00. Each one learns its index with CPUID leaf 1
; (EBX[31:24]), waits for its turn, prints "vCPU <n>" over the UART with OUT (polling LSR before
; each byte, as a real driver does) and " reporting\n" with one REP OUTSB, passes the turn on and
; counts itself done with LOCK INC. vCPU 0 then waits for every vCPU, checks the UART scratch
; register and writes the exit value to isa-debug-exit (0xf4); the others HLT. Lines therefore come
; out whole and in vCPU order.
;
; The last vCPU (vCPU 0 when it is alone) is the disk reader: right at the start, while the
; others print, it reads sector 1 of the ATA disk (the demo's guests/demo-disk.img) the way a
; polled PIO driver does (nIEN set, LBA 1, READ SECTORS, wait for DRQ, then one REP INSW of 256
; words: the string path), and on its turn prints "read disk sector 1 with rep insw: " and the
; message found there (its first byte is the length) instead of " reporting". Without a disk
; (the status register reads 0 or 0xff: no drive) it prints " reporting" like the others.
;
; The vCPU count: CPUID leaf 1 EBX[23:16] when EDX.HTT (bit 28) is set and it is nonzero (piosim
; and QEMU set both when there is more than one vCPU); otherwise the byte at `vcpu_count`, 1.
;
; Exit value: 0 = success (QEMU status (0 << 1) | 1 = 1; `piosim demo` reports that as status 0),
; 1 = the UART scratch register did not read back, 2 = the disk read failed (ERR).
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
EXIT_DISK    equ 2
ATA_DATA     equ 0x1f0
ATA_COUNT    equ 0x1f2
ATA_LBA_LOW  equ 0x1f3
ATA_DEVICE   equ 0x1f6
ATA_COMMAND  equ 0x1f7           ; status when read
ATA_CONTROL  equ 0x3f6
ATA_READ     equ 0x20            ; READ SECTORS
ST_BSY       equ 0x80
ST_DRQ       equ 0x08
ST_ERR       equ 0x01
SECTOR_BUF   equ 0x9000          ; past the guest image; the stacks are below 0x7000
DISK_NONE    equ 0               ; disk_state values
DISK_READ    equ 1
DISK_FAILED  equ 2
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

    dec ax                       ; the last vCPU reads the disk while the others print
    cmp bp, ax
    jne .wait_turn
    call read_sector

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
    mov dx, COM1
    mov ax, di
    dec ax
    cmp bp, ax
    je .reader_line
.plain_line:
    mov si, suffix
    mov cx, suffix_len
    rep outsb
    jmp .line_done
.reader_line:                    ; the disk reader says what it read
    cmp byte [disk_state], DISK_NONE
    je .plain_line
    mov si, read_text
    mov cx, read_text_len
    rep outsb
    cmp byte [disk_state], DISK_FAILED
    je .read_failed
    xor cx, cx
    mov cl, [SECTOR_BUF]         ; the message's length, then the message
    mov si, SECTOR_BUF + 1
    rep outsb
    jmp .newline
.read_failed:
    mov si, failed_text
    mov cx, failed_text_len
    rep outsb
.newline:
    mov al, 10
    call putc
.line_done:

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
    mov al, EXIT_SCRATCH
    jne .exit
    mov al, EXIT_DISK
    cmp byte [disk_state], DISK_FAILED
    je .exit
    mov al, EXIT_OK
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

; read_sector: sector 1 of the ATA master into SECTOR_BUF, polled. disk_state: DISK_NONE when
; no drive answers (status 0 or 0xff), DISK_FAILED on ERR, else DISK_READ. Keeps DI.
read_sector:
    mov dx, ATA_COMMAND
    in al, dx
    cmp al, 0xff                 ; no drive: the bus floats (or piosim's empty channel reads 0)
    je .none
    test al, al
    jz .none
    mov dx, ATA_CONTROL
    mov al, 0x02                 ; nIEN: no IRQ 14, this driver polls
    out dx, al
    mov dx, ATA_DEVICE
    mov al, 0xe0                 ; master, LBA addressing, LBA 27:24 = 0
    out dx, al
    mov dx, ATA_COUNT
    mov al, 1                    ; one sector
    out dx, al
    mov dx, ATA_LBA_LOW          ; LBA 1: 0x1f3 = 1, 0x1f4 = 0x1f5 = 0
    out dx, al
    inc dx
    xor al, al
    out dx, al
    inc dx
    out dx, al
    mov dx, ATA_COMMAND
    mov al, ATA_READ
    out dx, al
.poll:
    in al, dx
    test al, ST_BSY
    jnz .poll
    test al, ST_ERR
    jnz .fail
    test al, ST_DRQ
    jz .poll
    push di
    mov di, SECTOR_BUF
    mov cx, 256
    mov dx, ATA_DATA
    cld
    rep insw                     ; the whole sector: one string exit
    pop di
    mov byte [disk_state], DISK_READ
    ret
.fail:
    mov byte [disk_state], DISK_FAILED
    ret
.none:
    mov byte [disk_state], DISK_NONE
    ret

prefix:     db 'vCPU '
prefix_len  equ $ - prefix
suffix:     db ' reporting', 10
suffix_len  equ $ - suffix
read_text:  db ' read disk sector 1 with rep insw: '
read_text_len equ $ - read_text
failed_text: db 'the disk read failed'
failed_text_len equ $ - failed_text
disk_state: db DISK_NONE        ; set by read_sector

align 4
turn:       dw 0                 ; index of the vCPU that may print now
done:       dw 0                 ; vCPUs that have printed
