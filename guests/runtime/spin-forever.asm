; A guest that never exits and never halts: only the watchdog (or a stop) ends it.
bits 16
org 0x7c00
start:
    inc eax
    jmp start
