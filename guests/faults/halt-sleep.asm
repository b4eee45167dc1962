; Fault-injection guest (test/faults/exit-faults.test.ts): every vCPU makes one exit (out 0xe0).
; Then vCPU 0 loops with IF=0 (it alone takes interrupts, so none arrive, and the VM never counts
; as idle), and every other vCPU sleeps in HLT with IF=1 for good: the VM runs until the test
; kills a worker or the watchdog fires.
bits 16
org 0x7c00
start:
    cli
    out 0xe0, al
    mov eax, 1
    cpuid
    shr ebx, 24                 ; EBX = vCPU index
    test ebx, ebx
    jnz .sleeper
.spin:
    jmp .spin
.sleeper:
    sti
.sleep:
    hlt
    jmp .sleep
