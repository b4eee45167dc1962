; LOCK atomicity with exits in the middle (test/runtime/threads.test.ts). Every vCPU loops
; `iterations` times (a dword the test may patch, at the end of the image) over:
;   lock inc dword [0x1000]        aligned dword
;   lock inc dword [0x1026]        crosses an 8-byte line (the guest-invisible spinlock)
;   lock xadd [0x1030], eax        eax = 1
;   a guest spinlock (xchg on [0x1040]) around: a plain load of [0x1044], an OUT to the test
;   device (an exit, taken while the lock is held), an IN from an unassigned port, and the store
;   of the load + 1. A lost update shows as [0x1044] < total; a vCPU whose exit left the lock held
;   forever shows as a hang (the others spin on it).
; With vCPUs multiplexed on a worker, the OUT inside the critical section makes the holder wait
; for its completion while the other vCPUs of its thread spin on the lock in their turns.
; Each counter ends at vcpus * iterations; every vCPU ends with HLT (IF=0).
bits 16
org 0x7c00
start:
    xor ax, ax
    mov ds, ax
    mov ecx, [iterations]
.loop:
    lock inc dword [0x1000]
    lock inc dword [0x1026]
    mov eax, 1
    lock xadd [0x1030], eax
    mov al, 1
.spin:
    xchg al, [0x1040]
    test al, al
    jnz .spin
    mov edx, [0x1044]
    mov eax, ecx
    out 0xe0, eax               ; an exit inside the critical section
    in al, 0x81                 ; and another (unassigned: all ones)
    inc edx
    mov [0x1044], edx
    xor al, al
    xchg al, [0x1040]
    dec ecx
    jnz .loop
    cli
    hlt

align 4
iterations:
    dd 300
