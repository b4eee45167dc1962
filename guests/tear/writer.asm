; Unaligned stores seen whole (vCPU 1, test/cpu/unaligned-atomicity.test.ts). First warms up its
; store path on words of its own (V8 optimizes GuestMemory's unaligned store into one host store;
; before that its DataView builtin moves bytes singly), says so at 0x1041 and waits for the
; reader's 0x1042. Then, ECX times, stores all zeros then all ones into an unaligned word at 0x1011
; and an unaligned dword at 0x1023, both inside one cache line, and sets the done flag at 0x1040.
bits 16
org 0x9000
        mov edx, ecx
        mov ecx, 300000
warm:   mov [0x2011], cx
        mov [0x2023], ecx
        a32 loop warm
        mov byte [0x1041], 1
meet:   cmp byte [0x1042], 0
        je meet
        mov ecx, edx
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
