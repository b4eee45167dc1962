; Every vCPU halts at once: piosim exits 0.
bits 16
org 0x7c00
    hlt
