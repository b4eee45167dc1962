; UD2 (0F 0B) after two NOPs: a guest fault at 0000:7C02 (status 4).
bits 16
org 0x7c00
    nop
    nop
    ud2
