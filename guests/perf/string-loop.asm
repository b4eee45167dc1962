; String I/O benchmark guest (perf/vmexit.ts): REP INSB or REP OUTSB of `bytes` bytes to `port`,
; first `warmup` times untimed (the worker's fresh JIT compiles the string path), then 'S' on the
; UART, `iterations` times timed, 'E' and HLT. The buffer is linear 0x10000.. (ES = DS = 0x1000,
; offset 0): an a32 REP with ECX = bytes, so 64 KiB fits in one REP (a16 CX cannot count 65536).
; The buffer starts on a 4 KiB boundary, so `page` batches are whole pages. No call/push.
bits 16
org 0x7c00

; Repeat the string instruction %2 EAX times (EBX bytes each, to port DX).
%macro reps 2
    test eax, eax
    jz %1_done
%1_next:
    mov ecx, ebx
    xor esi, esi
    xor edi, edi
    a32 rep %2
    dec eax
    jnz %1_next
%1_done:
%endmacro

; Write one byte to the UART; DX (the benchmark port) is parked in SI, which each REP reloads.
%macro mark 1
    mov si, dx
    mov dx, 0x3f8
    mov al, %1
    out dx, al
    mov dx, si
%endmacro

start:
    cli
    cld
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov ebx, [bytes]
    mov dx, [port]
    mov ebp, [iterations]
    mov ecx, [dir]
    mov eax, [warmup]
    mov si, 0x1000              ; every parameter is in a register: DS may move to the buffer
    mov ds, si
    mov es, si
    test ecx, ecx
    jnz outs

ins:
    reps warm_in, insb
    mark 'S'
    mov eax, ebp
    reps timed_in, insb
    mark 'E'
    hlt

outs:
    reps warm_out, outsb
    mark 'S'
    mov eax, ebp
    reps timed_out, outsb
    mark 'E'
    hlt

align 4
dir:                            ; patched: 0 = rep insb, 1 = rep outsb (the fifth-to-last dword)
    dd 0
port:                           ; patched (the fourth-to-last dword)
    dd 0xe0
bytes:                          ; patched: bytes per REP (the third-to-last dword)
    dd 4096
warmup:                         ; patched: untimed REPs (the second-to-last dword)
    dd 0
iterations:                     ; patched: timed REPs (the last dword)
    dd 100
