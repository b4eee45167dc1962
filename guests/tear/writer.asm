; Unaligned stores seen whole (vCPU 1, test/cpu/unaligned-atomicity.test.ts): ECX times, store
; all zeros then all ones into an unaligned word at 0x1011 and an unaligned dword at 0x1023, both
; inside one cache line, then set the done flag at 0x1040.
bits 16
org 0x9000
        xor ax, ax
        xor ebx, ebx
        not ebx                 ; the dword starts as ones while the word starts as zeros
store:  mov [0x1011], ax
        mov [0x1023], ebx
        not ax
        not ebx
        a32 loop store          ; ECX rounds
        mov byte [0x1040], 1
        hlt
