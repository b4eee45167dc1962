; Every vCPU does 100 rounds (CX = 100 down to 1) of four port accesses, then halts
; (test/cli/trace.test.ts, test/report/vcpu-trace-vm.test.ts):
;   out 0xe0, al      - the test device: an exit
;   in eax, 0x608     - the ACPI PM timer, an in-vCPU device: no exit
;   out 0x520, al     - a doorbell when the test plugs an ioeventfd there (no exit), else unassigned
;   out 0x530, al     - a coalesced zone when the test plugs one there (no exit), else unassigned
; with al = the round's CX low byte, so each vCPU's trace records spell out its program order.
bits 16
org 0x7c00
    mov cx, 100
.round:
    mov al, cl
    out 0xe0, al
    mov dx, 0x608
    in eax, dx
    mov al, cl
    mov dx, 0x520
    out dx, al
    mov dx, 0x530
    out dx, al
    loop .round
    hlt
