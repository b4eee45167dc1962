/**
 * The 16550A's registers (offsets from the UART's base, OFS_) and their bits as masks, one prefix
 * per register (IER_, IIR_, FCR_, LCR_, MCR_, LSR_, MSR_): src/devices/uart.ts models them.
 */

export const OFS_RBR_THR = 0; // read: receive buffer; write: transmit holding (DLAB=0); DLL when DLAB=1
export const OFS_IER = 1; //     interrupt enable (DLAB=0); DLM when DLAB=1
export const OFS_IIR_FCR = 2; // read: interrupt identification; write: FIFO control
export const OFS_LCR = 3;
export const OFS_MCR = 4;
export const OFS_LSR = 5;
export const OFS_MSR = 6;
export const OFS_SCR = 7; //     scratch: reads back what was written

export const IER_RDI = 0x01;
export const IER_THRI = 0x02;
export const IER_RLSI = 0x04;
export const IER_MSI = 0x08;
export const IER_MASK = 0x0f;

export const IIR_NO_INT = 0x01;
export const IIR_THRI = 0x02;
export const IIR_RDI = 0x04;
export const IIR_RLSI = 0x06;
export const IIR_CTI = 0x0c;
export const IIR_MSI = 0x00;
export const IIR_FIFO_ENABLED = 0xc0;

export const FCR_FIFO_ENABLE = 0x01;
export const FCR_CLEAR_RX = 0x02;
export const FCR_CLEAR_TX = 0x04;
/** FCR bits kept (FIFO enable, DMA mode, trigger level). */
export const FCR_KEPT = 0xc9;
/** Receive trigger levels by FCR bits 7:6. */
export const RX_TRIGGER = [1, 4, 8, 14];

export const LCR_DLAB = 0x80;

export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;
export const MCR_MASK = 0x1f;

export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
export const LSR_BI = 0x10;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;

export const MSR_DELTA_ANY = 0x0f;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;
