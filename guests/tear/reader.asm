; Unaligned loads seen whole (vCPU 0, test/cpu/unaligned-atomicity.test.ts). First warms up its
; load path on words of its own, as the writer does, and meets the writer (0x1042 its flag, 0x1041
; the writer's). Then, until the writer's done flag, reads the word at 0x1011 and the dword at
; 0x1023, which the writer only ever fills with all zeros or all ones, and counts in ESI the words
; and in EDI the dwords that were neither (a torn store or load). EBP counts the rounds.
bits 16
org 0x7c00
        mov ecx, 300000
warm:   mov ax, [0x3011]
        mov eax, [0x3023]
        a32 loop warm
        mov byte [0x1042], 1
meet:   cmp byte [0x1041], 0
        je meet
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
