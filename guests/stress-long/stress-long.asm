; The long stress guest (perf/stress-long.ts, test/stress-long/stress-long.test.ts).
; Every vCPU (index v = CPUID initial APIC ID) runs `iterations` random port accesses from its own
; xorshift32 stream (seeded from `seed` and v). Each draw r picks:
;   size   = [1, 2, 4, 4][r & 3]
;   kind   = (r >> 2) & 3: OUT, IN, OUTS, INS (REP, k = ((r >> 8) & 7) + 1 elements)
;   target = (r >> 4) & 7:
;     0, 1, 2  sequence devices A (0x500), B (0x540) and C (0x580, a coalesced zone): vCPU v owns the
;              4 ports at base + 4v. Every element written or read carries the vCPU's running
;              count for that device (masked to the size): the device checks writes against its
;              own count for v, and the guest checks reads the same way, so both sides see each
;              vCPU's accesses in its program order, none lost or doubled.
;     3        the in-vCPU counter at 0x300 (one byte OUT: counted and summed)
;     4        the ioeventfd at 0x5c0 (a 2-byte OUT of 0x1234: a doorbell, no exit)
;     5        unassigned ports 0x700-0x7fc (reads must be all ones)
;     6        the hot-plug zone 0x800-0x83c (a device there comes and goes; nothing checked)
;     7        default devices: OUT to POST 0x80, IN from the UART scratch register 0x3ff
; It keeps its counts, a checksum of the sequence values and its read errors in its block at
; 0x1000 + 0x100 * v (offsets B_* below), then halts with IF=0.
bits 16
org 0x7c00

BLOCK_BASE   equ 0x1000
B_RNG        equ 0x00
B_R          equ 0x04           ; the current draw
B_LEFT       equ 0x08           ; iterations left
B_CNT        equ 0x10           ; 3 dwords: sequence counts for A, B, C
B_IOEV       equ 0x20           ; ioeventfd writes
B_UNASSIGNED equ 0x24           ; unassigned elements
B_HOT        equ 0x28           ; hot-zone elements
B_DEFAULT    equ 0x2c           ; default-device accesses
B_ERRORS     equ 0x30           ; reads that did not return what was expected
B_CHECKSUM   equ 0x34           ; sum of every sequence value written or read
B_ELEMENTS   equ 0x38           ; every element, all targets
B_COUNTER    equ 0x3c           ; in-vCPU counter writes
B_COUNTER_SUM equ 0x40          ; and the sum of their bytes
B_SIZE       equ 0x44           ; current access size (1, 2, 4)
B_PORT       equ 0x48           ; current port
B_K          equ 0x4c           ; current string count
B_CPTR       equ 0x50           ; address of the current sequence count
B_DONE       equ 0x54           ; 1 once every iteration has run
B_BUF        equ 0x80           ; string buffer (up to 8 x 4 bytes)

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, 1
    cpuid
    shr ebx, 24                 ; EBX = v
    mov bp, bx
    shl bp, 8
    add bp, BLOCK_BASE          ; BP = this vCPU's block (SS = 0)
    mov ax, bx
    shl ax, 8
    mov sp, 0x7000
    sub sp, ax                  ; a 256-byte stack per vCPU
    mov di, bp
    mov cx, 0x40
    xor eax, eax
    cld
    rep stosd                   ; zero the block
    mov eax, ebx
    inc eax
    imul eax, eax, 0x9e3779b9
    xor eax, [seed]
    or eax, 1                   ; xorshift32 state must not be 0
    mov [bp + B_RNG], eax
    mov eax, [iterations]
    mov [bp + B_LEFT], eax
    test eax, eax
    jz .done

.loop:
    call rand
    mov [bp + B_R], eax
    mov ecx, eax
    and ecx, 3
    movzx eax, byte [sizes + ecx]
    mov [bp + B_SIZE], eax
    mov eax, [bp + B_R]
    shr eax, 8
    and eax, 7
    inc eax
    mov [bp + B_K], eax
    mov eax, [bp + B_R]
    shr eax, 4
    and eax, 7
    shl ax, 1
    mov si, ax
    jmp [targets + si]

.next:
    dec dword [bp + B_LEFT]
    jnz .loop
.done:
    mov dword [bp + B_DONE], 1
    hlt

; --- targets (each jumps back to .next) ---------------------------------------------------------
t_seq_a:
    mov ax, 0x500
    mov di, B_CNT
    jmp seq_access
t_seq_b:
    mov ax, 0x540
    mov di, B_CNT + 4
    jmp seq_access
t_seq_c:
    mov ax, 0x580
    mov di, B_CNT + 8

; AX = device base, DI = offset of its count in the block
seq_access:
    mov cx, bx
    shl cx, 2
    add ax, cx
    mov [bp + B_PORT], ax
    add di, bp
    mov [bp + B_CPTR], di
    mov ecx, [bp + B_R]
    shr ecx, 2
    and ecx, 3
    jz .out
    dec ecx
    jz .in
    dec ecx
    jz .outs
.ins:
    lea di, [bp + B_BUF]
    mov cx, [bp + B_K]
    mov dx, [bp + B_PORT]
    call ins_sized
    lea si, [bp + B_BUF]
    mov cx, [bp + B_K]
.ins_check:
    call get_elem
    call check_next
    loop .ins_check
    jmp .count_k
.outs:
    lea di, [bp + B_BUF]
    mov cx, [bp + B_K]
.outs_fill:
    mov si, [bp + B_CPTR]
    mov eax, [si]
    inc dword [si]
    call mask_eax
    add [bp + B_CHECKSUM], eax
    call put_elem
    loop .outs_fill
    lea si, [bp + B_BUF]
    mov cx, [bp + B_K]
    mov dx, [bp + B_PORT]
    call outs_sized
.count_k:
    mov eax, [bp + B_K]
    add [bp + B_ELEMENTS], eax
    jmp start.next
.in:
    mov dx, [bp + B_PORT]
    call in_sized
    call check_next
    inc dword [bp + B_ELEMENTS]
    jmp start.next
.out:
    mov si, [bp + B_CPTR]
    mov eax, [si]
    inc dword [si]
    call mask_eax
    add [bp + B_CHECKSUM], eax
    mov dx, [bp + B_PORT]
    call out_sized
    inc dword [bp + B_ELEMENTS]
    jmp start.next

; EAX = a value read from the current sequence device: add it to the checksum, compare it with
; the vCPU's own count (masked), count an error if they differ, and advance the count.
check_next:
    push si
    add [bp + B_CHECKSUM], eax
    mov edx, eax
    mov si, [bp + B_CPTR]
    mov eax, [si]
    inc dword [si]
    call mask_eax
    cmp eax, edx
    je .ok
    inc dword [bp + B_ERRORS]
.ok:
    pop si
    ret

t_counter:
    mov eax, [bp + B_R]
    shr eax, 24
    mov dx, 0x300
    out dx, al
    inc dword [bp + B_COUNTER]
    add [bp + B_COUNTER_SUM], eax
    inc dword [bp + B_ELEMENTS]
    jmp start.next

t_ioeventfd:
    mov dx, 0x5c0
    mov ax, 0x1234
    out dx, ax
    inc dword [bp + B_IOEV]
    inc dword [bp + B_ELEMENTS]
    jmp start.next

t_unassigned:
    mov ax, 0x700
    mov di, B_UNASSIGNED
    mov cx, 1                   ; reads are checked: all ones
    jmp zone_access
t_hot:
    mov ax, 0x800
    mov di, B_HOT
    xor cx, cx                  ; reads are not checked
    ; fall through

; AX = zone base, DI = offset of its element count in the block, CX = 1 to check reads are all ones
zone_access:
    mov edx, [bp + B_R]
    shr edx, 12
    and dx, 0x3c
    cmp ax, 0x700
    jne .port
    mov edx, [bp + B_R]
    shr edx, 12
    and dx, 0xfc
.port:
    add ax, dx
    mov [bp + B_PORT], ax
    add di, bp
    push di                     ; the count to add to
    push cx                     ; check reads?
    mov ecx, [bp + B_R]
    shr ecx, 2
    and ecx, 3
    jz .out
    dec ecx
    jz .in
    dec ecx
    jz .outs
.ins:
    lea di, [bp + B_BUF]
    mov cx, [bp + B_K]
    mov dx, [bp + B_PORT]
    call ins_sized
    pop cx
    jcxz .count_k
    lea si, [bp + B_BUF]
    mov cx, [bp + B_K]
.ins_check:
    call get_elem
    call check_ones
    loop .ins_check
    jmp .count_k
.outs:
    lea si, [bp + B_BUF]        ; whatever the buffer holds
    mov cx, [bp + B_K]
    mov dx, [bp + B_PORT]
    call outs_sized
    pop cx
.count_k:
    pop di
    mov eax, [bp + B_K]
    add [di], eax
    add [bp + B_ELEMENTS], eax
    jmp start.next
.in:
    mov dx, [bp + B_PORT]
    call in_sized
    pop cx
    jcxz .count_1
    call check_ones
    jmp .count_1
.out:
    mov eax, [bp + B_R]
    mov dx, [bp + B_PORT]
    call out_sized
    pop cx
.count_1:
    pop di
    inc dword [di]
    inc dword [bp + B_ELEMENTS]
    jmp start.next

; EAX = a value read from an unassigned port: all ones for the size, else an error.
check_ones:
    mov edx, eax
    mov eax, 0xffffffff
    call mask_eax
    cmp eax, edx
    je .ok
    inc dword [bp + B_ERRORS]
.ok:
    ret

t_default:
    test byte [bp + B_R + 3], 1
    jz .post
    mov dx, 0x3ff
    in al, dx
    jmp .count
.post:
    mov al, [bp + B_R + 2]
    out 0x80, al
.count:
    inc dword [bp + B_DEFAULT]
    inc dword [bp + B_ELEMENTS]
    jmp start.next

; --- helpers: the current access size is [bp + B_SIZE] ------------------------------------------
rand:                           ; xorshift32: EAX = next, clobbers EDX
    mov eax, [bp + B_RNG]
    mov edx, eax
    shl edx, 13
    xor eax, edx
    mov edx, eax
    shr edx, 17
    xor eax, edx
    mov edx, eax
    shl edx, 5
    xor eax, edx
    mov [bp + B_RNG], eax
    ret

mask_eax:
    cmp byte [bp + B_SIZE], 2
    ja .done
    je .word
    movzx eax, al
    ret
.word:
    movzx eax, ax
.done:
    ret

out_sized:                      ; OUT DX, AL/AX/EAX
    cmp byte [bp + B_SIZE], 2
    ja .d
    je .w
    out dx, al
    ret
.w: out dx, ax
    ret
.d: out dx, eax
    ret

in_sized:                       ; EAX = IN DX, zero-extended
    xor eax, eax
    cmp byte [bp + B_SIZE], 2
    ja .d
    je .w
    in al, dx
    ret
.w: in ax, dx
    ret
.d: in eax, dx
    ret

put_elem:                       ; [DI] = EAX (size), DI += size
    cmp byte [bp + B_SIZE], 2
    ja .d
    je .w
    mov [di], al
    inc di
    ret
.w: mov [di], ax
    add di, 2
    ret
.d: mov [di], eax
    add di, 4
    ret

get_elem:                       ; EAX = [SI] (size, zero-extended), SI += size
    xor eax, eax
    cmp byte [bp + B_SIZE], 2
    ja .d
    je .w
    mov al, [si]
    inc si
    ret
.w: mov ax, [si]
    add si, 2
    ret
.d: mov eax, [si]
    add si, 4
    ret

outs_sized:                     ; REP OUTS DX, [SI], CX elements
    cld
    cmp byte [bp + B_SIZE], 2
    ja .d
    je .w
    rep outsb
    ret
.w: rep outsw
    ret
.d: rep outsd
    ret

ins_sized:                      ; REP INS [ES:DI], DX, CX elements
    cld
    cmp byte [bp + B_SIZE], 2
    ja .d
    je .w
    rep insb
    ret
.w: rep insw
    ret
.d: rep insd
    ret

sizes:
    db 1, 2, 4, 4
targets:
    dw t_seq_a, t_seq_b, t_seq_c, t_counter, t_ioeventfd, t_unassigned, t_hot, t_default

align 4
seed:                           ; patched by the harness
    dd 1
iterations:                     ; patched by the harness: per vCPU
    dd 1000
