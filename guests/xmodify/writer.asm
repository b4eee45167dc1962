; Cross-modifying code, the writer (vCPU 1, test/cpu/jit-cross-modify.test.ts): once the runner
; has been round its loop twice, stores 1, 2, ... ECX into the runner's immediate (its address in
; the word at 0x6006) and, after each, publishes the same value in the flag word at 0x6000.
; After the first value it waits until the runner's round counter (0x6004) has moved by 2, so the
; runner has started a round after the rewrite: on a loaded host the runner could otherwise be
; descheduled through all the writes and never meet a rewritten block (no invalidation to check).
; Then sets the "done" byte at 0x6002.
bits 16
org 0x9000
gate:   cmp word [0x6004], 2
        jb gate
        mov bx, [0x6006]
        mov dx, 1
write:  mov [bx], dx            ; the code first ...
        mov [0x6000], dx        ; ... then the flag
        cmp dx, 1
        jne next
        mov si, [0x6004]
settle: mov ax, [0x6004]        ; the runner's rounds since the first rewrite (16-bit, wraps)
        sub ax, si
        cmp ax, 2
        jb settle
next:   inc dx
        loop write
        mov byte [0x6002], 1
        hlt
