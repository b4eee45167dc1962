; A guest with an exact number of exits, whatever the host's speed: 5000 OUTs to the POST port
; (0x80), then a write of 0 to isa-debug-exit (exit status 1). Its device trace has 5001 records
; and its exit trace 5001, so a --trace-limit test knows exactly what was left out.
bits 16
org 0x7c00
    mov cx, 5000
.out:
    mov al, cl
    out 0x80, al
    loop .out
    mov al, 0
    out 0xf4, al
