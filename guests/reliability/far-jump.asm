; Isolation: a far jump to FFFF:FFFF, linear 0x10FFEF, past the end of 1 MiB of RAM. Fetches
; there read all ones (FF FF: an invalid form of group 5), so the vCPU raises #UD; the test runs
; it with --stop-on-exception, so the run ends as a guest fault naming FFFF:FFFF.
bits 16
org 0x7c00
    jmp 0xFFFF:0xFFFF
