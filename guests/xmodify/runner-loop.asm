; Cross-modifying code, the runner (vCPU 0, test/cpu/jit-cross-modify.test.ts): one self-looping
; block, so the block translator runs the rounds inside one block function and its back edge is
; the "next block entry". Counts in SI the rounds where AX (the code) is older than DX, the flag
; read at the end of the previous round: only the back edge lies between that read and this
; round's `mov ax` (the check that follows the round-counter store comes before the flag read).
; Stops a round after its code held the writer's last value, as runner-blocks.asm does. Shared
; words as in runner-blocks.asm.
bits 16
org 0x7c00
        nop                     ; puts the rewritten immediate at an even address (the test's comment)
        xor si, si
        xor di, di
        xor dx, dx
        xor cx, cx
round:  mov ax, 0               ; the writer rewrites this immediate (RUNNER_IMM in the test)
        cmp ax, dx
        adc si, 0               ; CF: AX < DX, a stale round
        inc cx
        mov [0x6004], cx        ; the round counter the writer waits on
        mov dx, [0x6000]
        cmp di, [0x6008]        ; stop in the round after the one whose code held the last
        mov di, ax              ; value, so the stop is always decided after a block entry
        jne round
        hlt
