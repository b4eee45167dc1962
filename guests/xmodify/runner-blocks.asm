; Cross-modifying code, the runner (vCPU 0, test/cpu/jit-cross-modify.test.ts): the rewritten
; `mov ax, imm` starts a block of its own, entered after the block that reads the flag.
; Counts in SI the rounds where AX (the code) is older than BX (the flag read before it). It
; stops a round after its code held the writer's last value, and every round starts with a block
; entry, so it cannot finish without having run the rewritten code from a new translation (a run
; that ends in the interpreter, a slice's last few instructions, is too short for the stop). Shared words: 0x6000 the writer's flag (the last value it wrote into the code),
; 0x6004 this runner's round counter (the writer starts once it reaches 2), 0x6008 the writer's
; last value (set by the test).
bits 16
org 0x7c00
        nop                     ; puts the rewritten immediate at an even address (the test's comment)
        xor si, si
        xor di, di
round:  inc word [0x6004]
        mov bx, [0x6000]
        jmp short code          ; ends the block: the next one starts at the rewritten instruction
code:   mov ax, 0               ; the writer rewrites this immediate (RUNNER_IMM in the test)
        cmp ax, bx
        jae fresh
        inc si                  ; a stale round
fresh:  cmp di, [0x6008]        ; stop in the round after the one whose code held the last
        mov di, ax              ; value, so the stop is always decided after a block entry
        jne round
        hlt
