; The `piosim stress` guest (src/stress/, README "piosim stress"). Every vCPU runs this loop; the
; host writes the experiment into the parameter block below before start (src/stress/stress-layout.ts
; holds the same offsets) and, in duration mode, sets the stop word in RAM when time is up.
;
; Per access i (i = this vCPU's accesses so far), op = ops[i & 63]: bits 1:0 the kind (0 OUT,
; 1 IN, 2 REP OUTS, 3 REP INS), bits 3:2 the size (0: byte, 1: word, 2: dword). Then a compute
; loop of `think` iterations (2 instructions each), then the access counts as done.
;
; What the guest keeps in its results block (RESULTS + vCPU * 64), for the host to check against
; what the stress device saw:
;  - OUT values and OUTS elements are ((i + e) << 8 | vCPU) cut to the access size, so the device
;    can tell which vCPU wrote; their sum (mod 2^32) is R_OUT_SUM;
;  - IN values and INS elements are summed (zero-extended) into R_IN_SUM; the device answers with
;    its own index in the low byte, and a value naming another device counts in R_MISROUTED_IN.
; Port: base + vCPU * stride (stride 0: one port shared by all). String elements live in a 4 KiB
; buffer per vCPU at segment BUF_SEG + vCPU * 0x100. Each vCPU has its own stack.
bits 16
org 0x7c00

PARAMS          equ 0x7c10      ; the parameter block below: 16 bytes into the image
P_MAGIC         equ 0           ; 'PSTR': the host checks it before writing the rest
P_MODE          equ 4           ; 0: run until P_STOP is set; 1: run P_COUNT accesses
P_COUNT         equ 8
P_PORT          equ 12
P_STRIDE        equ 16
P_THINK         equ 20          ; compute-loop iterations between accesses
P_STRING_COUNT  equ 24          ; elements per REP INS / REP OUTS (1..1024)
P_STOP          equ 28          ; the host stores 1 here to end a duration run
P_OPS           equ 64          ; 64 op bytes

RESULTS         equ 0x1000      ; 64 bytes per vCPU (64 vCPUs: 0x1000-0x1fff)
R_ACCESSES      equ 0
R_FAST_OUT      equ 4
R_FAST_IN       equ 8
R_OUTS_OPS      equ 12
R_OUTS_ELEMENTS equ 16
R_INS_OPS       equ 20
R_INS_ELEMENTS  equ 24
R_OUT_SUM       equ 28
R_IN_SUM        equ 32
R_MISROUTED_IN  equ 36
R_DONE          equ 40
R_EXPECT        equ 44          ; the device index this vCPU's INs must name
R_SIZE          equ 48          ; scratch: size code of the current op

BUF_SEG         equ 0x1000
STACK_TOP       equ 0x7000      ; 64 bytes of stack per vCPU below it

    jmp near start
    times 16 - ($ - $$) db 0
params:
    dd 'PSTR'
    times 128 - ($ - params) db 0

start:
    cli
    cld
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov eax, 1
    cpuid
    shr ebx, 24
    mov ebp, ebx                ; EBP = vCPU index (initial APIC ID)
    mov ax, bp
    shl ax, 6
    mov sp, STACK_TOP
    sub sp, ax
    mov bx, ax
    add bx, RESULTS             ; BX = this vCPU's results block
    mov ax, bp
    shl ax, 8
    add ax, BUF_SEG
    mov es, ax                  ; ES:0 = this vCPU's string buffer
    mov ax, bp
    mul word [PARAMS + P_STRIDE]
    add ax, [PARAMS + P_PORT]
    mov dx, ax                  ; DX = this vCPU's port
    xor eax, eax
    cmp dword [PARAMS + P_STRIDE], 0
    je .expect
    mov eax, ebp
.expect:
    mov [bx + R_EXPECT], eax

.loop:
    cmp dword [PARAMS + P_MODE], 0
    jne .counted
    cmp dword [PARAMS + P_STOP], 0
    jne .finish
    jmp .go
.counted:
    mov eax, [bx + R_ACCESSES]
    cmp eax, [PARAMS + P_COUNT]
    jae .finish
.go:
    mov si, [bx + R_ACCESSES]
    and si, 63
    movzx ax, byte [si + PARAMS + P_OPS]
    mov si, ax
    shr si, 2                   ; SI = size code
    mov [bx + R_SIZE], si
    and al, 3
    cmp al, 1
    jb .out
    je .in
    cmp al, 2
    je .outs
    jmp .ins

.out:
    mov ecx, [bx + R_ACCESSES]
    shl ecx, 8
    or ecx, ebp                 ; value = i << 8 | vCPU
    cmp si, 1
    jb .out1
    je .out2
    mov eax, ecx
    out dx, eax
    jmp .out_done
.out1:
    mov al, cl
    out dx, al
    movzx ecx, cl
    jmp .out_done
.out2:
    mov ax, cx
    out dx, ax
    movzx ecx, cx
.out_done:
    add [bx + R_OUT_SUM], ecx
    inc dword [bx + R_FAST_OUT]
    jmp .next

.in:
    xor eax, eax
    cmp si, 1
    jb .in1
    je .in2
    in eax, dx
    jmp .in_done
.in1:
    in al, dx
    jmp .in_done
.in2:
    in ax, dx
.in_done:
    add [bx + R_IN_SUM], eax
    inc dword [bx + R_FAST_IN]
    cmp al, [bx + R_EXPECT]
    je .next
    inc dword [bx + R_MISROUTED_IN]
    jmp .next

.outs:
    ; Fill the buffer with this op's elements, summing them, then send it with one REP OUTS.
    mov cx, [PARAMS + P_STRING_COUNT]
    xor di, di
    mov eax, [bx + R_ACCESSES]
    shl eax, 8
    or eax, ebp
.fill:
    push eax
    cmp si, 1
    jb .fill1
    je .fill2
    mov [es:di], eax
    add di, 4
    jmp .fill_sum
.fill1:
    mov [es:di], al
    movzx eax, al
    inc di
    jmp .fill_sum
.fill2:
    mov [es:di], ax
    movzx eax, ax
    add di, 2
.fill_sum:
    add [bx + R_OUT_SUM], eax
    pop eax
    add eax, 0x100
    loop .fill
    mov cx, [PARAMS + P_STRING_COUNT]
    xor si, si
    cmp word [bx + R_SIZE], 1
    jb .outs1
    je .outs2
    rep es outsd
    jmp .outs_done
.outs1:
    rep es outsb
    jmp .outs_done
.outs2:
    rep es outsw
.outs_done:
    inc dword [bx + R_OUTS_OPS]
    mov eax, [PARAMS + P_STRING_COUNT]
    add [bx + R_OUTS_ELEMENTS], eax
    jmp .next

.ins:
    mov cx, [PARAMS + P_STRING_COUNT]
    xor di, di
    cmp si, 1
    jb .ins1
    je .ins2
    rep insd
    jmp .ins_sum
.ins1:
    rep insb
    jmp .ins_sum
.ins2:
    rep insw
.ins_sum:
    ; Sum what arrived, and check that every element names the expected device.
    mov cx, [PARAMS + P_STRING_COUNT]
    xor di, di
.sum:
    cmp si, 1
    jb .sum1
    je .sum2
    mov eax, [es:di]
    add di, 4
    jmp .sum_add
.sum1:
    movzx eax, byte [es:di]
    inc di
    jmp .sum_add
.sum2:
    movzx eax, word [es:di]
    add di, 2
.sum_add:
    add [bx + R_IN_SUM], eax
    cmp al, [bx + R_EXPECT]
    je .sum_next
    inc dword [bx + R_MISROUTED_IN]
.sum_next:
    loop .sum
    inc dword [bx + R_INS_OPS]
    mov eax, [PARAMS + P_STRING_COUNT]
    add [bx + R_INS_ELEMENTS], eax

.next:
    mov ecx, [PARAMS + P_THINK]
    test ecx, ecx
    jz .counted_done
.think:
    dec ecx
    jnz .think
.counted_done:
    inc dword [bx + R_ACCESSES]
    jmp .loop

.finish:
    mov dword [bx + R_DONE], 1
    hlt                         ; IF=0: this vCPU ends
