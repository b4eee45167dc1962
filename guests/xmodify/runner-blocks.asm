; Cross-modifying code, the runner (vCPU 0, test/cpu/jit-cross-modify.test.ts): the rewritten
; `mov ax, imm` starts a block of its own, entered after the block that reads the flag.
; Counts in SI the rounds where AX (the code) is older than BX (the flag read before it), and
; stops once its code holds the writer's last value, so it cannot finish without having run the
; rewritten code. Shared words: 0x6000 the writer's flag (the last value it wrote into the code),
; 0x6004 this runner's round counter (the writer starts once it reaches 2), 0x6008 the writer's
; last value (set by the test).
bits 16
org 0x7c00
        xor si, si
round:  inc word [0x6004]
        mov bx, [0x6000]
        jmp short code          ; ends the block: the next one starts at the rewritten instruction
code:   mov ax, 0               ; the writer rewrites this immediate (RUNNER_IMM in the test)
        cmp ax, bx
        jae fresh
        inc si                  ; a stale round
fresh:  cmp ax, [0x6008]
        jne round
        hlt
