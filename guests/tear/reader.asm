; Unaligned loads seen whole (vCPU 0, test/cpu/unaligned-atomicity.test.ts): until the writer's
; done flag, read the word at 0x1011 and the dword at 0x1023, which the writer only ever fills
; with all zeros or all ones, and count in ESI the words and in EDI the dwords that were neither
; (a torn store or load). EBP counts the rounds.
bits 16
org 0x7c00
        xor esi, esi
        xor edi, edi
        xor ebp, ebp
read:   inc ebp
        mov ax, [0x1011]
        inc ax                  ; ones -> 0, zeros -> 1: anything else was torn
        cmp ax, 1
        jbe word_ok
        inc esi
word_ok:
        mov eax, [0x1023]
        inc eax
        cmp eax, 1
        jbe dword_ok
        inc edi
dword_ok:
        cmp byte [0x1040], 0
        je read
        hlt
