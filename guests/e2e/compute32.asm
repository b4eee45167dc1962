; compute32: real programs with 32-bit code in real mode (0x66/0x67 prefixes): ECX-counted loops,
; SIB addressing, MUL/IMUL/DIV/IDIV, string copies with MOVSD/STOSD/LODSD, a sieve and a CRC-32.
; Each result goes to the UART as "name=XXXXXXXX" and to the test device port 0xe0 as a dword;
; test/e2e/compute32.test.ts recomputes every value. Ends by writing 0x04 to isa-debug-exit.
bits 16
org 0x7c00

TESTDEV equ 0xe0
FIB     equ 0x1000
COPY    equ 0x1400
FILL    equ 0x1800
SIEVE   equ 0x2000
SIEVE_N equ 8192

%include "real-mode.inc"

start:
    flat_real_mode

    ; (1) sum of squares 1..1000, the loop counted in ECX (a32 LOOP)
    xor ebx, ebx
    mov ecx, 1000
.sq:
    mov eax, ecx
    mul eax
    add ebx, eax
    a32 loop .sq
    mov eax, ebx
    mov si, s_sumsq
    call report

    ; (2) Fibonacci table of 48 dwords with SIB addressing
    mov ebx, FIB
    mov dword [ebx], 0
    mov dword [ebx + 4], 1
    mov esi, 2
.fib:
    mov eax, [ebx + esi*4 - 4]
    add eax, [ebx + esi*4 - 8]
    mov [ebx + esi*4], eax
    inc esi
    cmp esi, 48
    jb .fib
    mov eax, [ebx + 47*4]
    mov si, s_fib
    call report

    ; (3) copy it with a32 REP MOVSD, checksum the copy with LODSD
    mov esi, FIB
    mov edi, COPY
    mov ecx, 48
    a32 rep movsd
    mov si, COPY
    mov cx, 48
    xor edx, edx
.ck:
    lodsd
    rol edx, 5
    xor edx, eax
    loop .ck
    mov eax, edx
    mov si, s_cksum
    call report
    ; REP STOSD, summed back through a scaled index with no base
    mov edi, FILL
    mov eax, 0x13579bdf
    mov ecx, 16
    a32 rep stosd
    xor eax, eax
    xor ecx, ecx
.sum:
    add eax, [FILL + ecx*4]
    inc ecx
    cmp cl, 16
    jne .sum
    mov si, s_stosd
    call report

    ; (4) 64/32 DIV, signed IDIV, 16-bit IMUL, three-operand IMUL
    mov edx, 0x12345678
    mov eax, 0x9abcdef0
    mov ecx, 0x87654321
    div ecx
    push edx
    mov si, s_divq
    call report
    pop eax
    mov si, s_divr
    call report
    mov eax, -1000000007
    cdq
    mov ecx, 12345
    idiv ecx
    push edx
    mov si, s_idivq
    call report
    pop eax
    mov si, s_idivr
    call report
    mov ax, 0xfff1
    mov bx, 0x1234
    imul bx
    shl edx, 16
    mov dx, ax
    mov eax, edx
    mov si, s_imul16
    call report
    mov ebx, 123456789
    imul eax, ebx, -987
    mov si, s_imul3
    call report

    ; (5) sieve of Eratosthenes below 8192 over a byte array, [ebx + reg] addressing
    mov edi, SIEVE
    mov ecx, SIEVE_N
    mov al, 1
    a32 rep stosb
    mov ebx, SIEVE
    mov byte [ebx], 0
    mov byte [ebx + 1], 0
    mov esi, 2
.outer:
    mov eax, esi
    mul esi
    cmp eax, SIEVE_N
    jae .count
    cmp byte [ebx + esi], 0
    je .next
.mark:
    mov byte [ebx + eax], 0
    add eax, esi
    cmp eax, SIEVE_N
    jb .mark
.next:
    inc esi
    jmp .outer
.count:
    xor eax, eax
    xor ecx, ecx
.cnt:
    movzx edx, byte [ebx + ecx]
    add eax, edx
    inc ecx
    cmp ecx, SIEVE_N
    jb .cnt
    mov si, s_primes
    call report

    ; (6) CRC-32 (reflected, polynomial 0xEDB88320), bit by bit
    mov si, msg_crc
    mov cx, msg_crc_len
    mov edx, 0xffffffff
.byte:
    lodsb
    xor dl, al
    push cx
    mov cx, 8
.bit:
    shr edx, 1
    jnc .nox
    xor edx, 0xedb88320
.nox:
    loop .bit
    pop cx
    loop .byte
    not edx
    mov eax, edx
    mov si, s_crc
    call report

    mov al, 0x04
    out 0xf4, al
    hlt

; report: print "<DS:SI>=<EAX in hex>\n" on the UART and write EAX to the test device
report:
    out TESTDEV, eax
    call print_str
    call print_hex32
    push ax
    mov al, 10
    call print_chr
    pop ax
    ret

%include "uart-print.inc"

s_sumsq:  db 'sumsq=', 0
s_fib:    db 'fib47=', 0
s_cksum:  db 'cksum=', 0
s_stosd:  db 'stosd=', 0
s_divq:   db 'divq=', 0
s_divr:   db 'divr=', 0
s_idivq:  db 'idivq=', 0
s_idivr:  db 'idivr=', 0
s_imul16: db 'imul16=', 0
s_imul3:  db 'imul3=', 0
s_primes: db 'primes=', 0
s_crc:    db 'crc32=', 0
msg_crc:  db 'The quick brown fox jumps over the lazy dog'
msg_crc_len equ $ - msg_crc
