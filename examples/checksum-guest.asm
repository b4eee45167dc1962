; checksum-guest: drives examples/checksum-device.mjs at 0x510 as a driver would: reset, stream
; the message with one `rep outsb` (one exit: the device takes the batch in writeString), read
; the Fletcher-16 checksum, print "fletcher16=XXXX" on COM1, end with isa-debug-exit carrying the
; checksum's low byte. Assemble: nasm -f bin checksum-guest.asm -o checksum-guest.bin
bits 16
org 0x7c00

CK_BASE    equ 0x510
COM1       equ 0x3f8
DEBUG_EXIT equ 0xf4

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    cld
    mov dx, CK_BASE + 4
    out dx, al                  ; reset
    mov dx, CK_BASE
    mov si, message
    mov cx, message_len
    rep outsb                   ; the whole message in one batch
    mov dx, CK_BASE + 2
    in ax, dx                   ; the checksum
    mov bx, ax
    mov si, label
    call puts
    mov cx, 4
.digit:                         ; BX in hex, high nibble first
    rol bx, 4
    mov al, bl
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 'a' - '0' - 10
.out:
    mov dx, COM1
    out dx, al
    loop .digit
    mov al, 10
    out dx, al
    mov al, bl                  ; BX is back to the checksum after four 4-bit rotations
    out DEBUG_EXIT, al
    hlt

puts:                           ; DS:SI, zero-terminated, to COM1
    mov dx, COM1
.next:
    lodsb
    test al, al
    jz .done
    out dx, al
    jmp .next
.done:
    ret

label:   db 'fletcher16=', 0
message: db 'piosim runs your own devices'
message_len equ $ - message
