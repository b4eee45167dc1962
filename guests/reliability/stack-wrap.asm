; Isolation: the stack wraps around inside its segment (SP 0 -> 0xFFFE on PUSH, 0xFFFE -> 0 on
; POP), and a stack segment at FFFF:xxxx reaches past the end of RAM, where pushes are dropped
; and pops read all ones. Reports through isa-debug-exit: 0 = every check held, else the check.
bits 16
org 0x7c00
    xor ax, ax
    mov ds, ax
    mov ss, ax
    xor sp, sp
    push word 0x1234            ; SP 0 -> 0xFFFE: written at 0000:FFFE
    mov bl, 1
    cmp sp, 0xFFFE
    jne fail
    mov bl, 2
    cmp word [0xFFFE], 0x1234
    jne fail
    pop ax                      ; SP 0xFFFE -> 0
    mov bl, 3
    cmp sp, 0
    jne fail
    cmp ax, 0x1234
    jne fail
    call near .sub              ; CALL/RET across the wrap too
    mov bl, 4
    cmp sp, 0
    jne fail
    mov ax, 0xFFFF              ; SS base 0xFFFF0: SS:FFFE is linear 0x10FFEE, past 1 MiB of RAM
    mov ss, ax
    xor sp, sp
    push word 0x5678            ; dropped
    pop ax
    mov bl, 5
    cmp ax, 0xFFFF              ; read back as all ones
    jne fail
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    mov al, 0
    out 0xf4, al
.sub:
    ret
fail:
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    mov al, bl
    out 0xf4, al
