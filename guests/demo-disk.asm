; The demo's disk image (`npm start`, `piosim demo`): two 512-byte sectors, opened read-only and
; never modified (the demo has no --disk-writeback). The demo guest's last vCPU reads sector 1
; over ATA PIO with one `rep insw` and prints the message it finds there: its first byte is the
; message's length.
;
; nasm -f bin demo-disk.asm -o demo-disk.img

sector0:
    db 'PIOSIM DEMO DISK: the message is in sector 1', 0
    times 512 - ($ - sector0) db 0

sector1:
    db message_len
message:
    db '"Hello from sector 1 of the demo disk"'
message_len equ $ - message
    times 512 - ($ - sector1) db 0
