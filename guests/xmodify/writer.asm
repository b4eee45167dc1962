; Cross-modifying code, the writer (vCPU 1, test/cpu/jit-cross-modify.test.ts): once the runner
; has been round its loop twice, stores 1, 2, ... ECX into the runner's immediate (its address in
; the word at 0x6006) and, after each, publishes the same value in the flag word at 0x6000.
bits 16
org 0x9000
gate:   cmp word [0x6004], 2
        jb gate
        mov bx, [0x6006]
        mov dx, 1
write:  mov [bx], dx            ; the code first ...
        mov [0x6000], dx        ; ... then the flag
        inc dx
        loop write
        hlt
