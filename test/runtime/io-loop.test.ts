import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { IoLoop, type ExitBus } from '../../src/exit/io-loop.js';
import { createRequestRingMemory, RequestRing } from '../../src/exit/request-ring.js';
import { sharedNowMs } from '../../src/exit/shared-clock.js';
import {
  createRunPagesMemory, RP_COUNT, RP_DIRECTION, RP_PORT, RP_SEQUENCE, RP_SIZE, RP_SLEEPING, RP_STATE,
  RP_STRING, RP_VALUE, runPageOf, STATE_EXIT_ABORTED, STATE_EXIT_DONE, STATE_EXIT_DONE_STOP, STATE_EXIT_PENDING, type RunPage,
} from '../../src/exit/run-page.js';
import { DIR_IN, DIR_OUT, type AccessSize } from '../../src/types.js';

/** A stand-in bus that records what it was asked (the io loop is the unit under test here). */
class RecordingBus implements ExitBus {
  log: string[] = [];
  hasCoalescedZones = false;
  graceWaiting = false;
  serveRead(vcpu: number, _d: number, _b: number, port: number, size: AccessSize): number { this.log.push(`r${vcpu}:${port}/${size}`); return 0x1234; }
  serveWrite(vcpu: number, _d: number, _b: number, port: number, size: AccessSize, value: number): void { this.log.push(`w${vcpu}:${port}/${size}=${value}`); }
  serveReadString(vcpu: number, _d: number, _b: number, port: number, size: AccessSize, count: number, data: Uint8Array): void {
    this.log.push(`rs${vcpu}:${port}/${size}x${count}`);
    data.fill(0xab, 0, count * size);
  }
  serveWriteString(vcpu: number, _d: number, _b: number, port: number, size: AccessSize, count: number, data: Uint8Array): void {
    this.log.push(`ws${vcpu}:${port}/${size}x${count}:${Array.from(data.subarray(0, count * size)).join(',')}`);
  }
  drainCoalesced(): number { return 0; }
  drainAllCoalesced(): number { return 0; }
}

/** Post an exit the way a vCPU does: fill the run page, mark it pending, push the descriptor. */
function post(page: RunPage, ring: RequestRing, seq: number, dir: number, port: number, size: number, value = 0, count = 1, string = 0): void {
  const f = page.fields;
  f[RP_SEQUENCE] = seq; f[RP_DIRECTION] = dir; f[RP_PORT] = port; f[RP_SIZE] = size;
  f[RP_VALUE] = value; f[RP_COUNT] = count; f[RP_STRING] = string;
  Atomics.store(f, RP_STATE, STATE_EXIT_PENDING);
  ring.push(page.vcpu, seq);
}

function setup(vcpus: number, countPortExits = false) {
  const ringMemory = createRequestRingMemory(Math.max(2, vcpus)); // room for the stale descriptors below
  const pagesMemory = createRunPagesMemory(vcpus);
  const pages = Array.from({ length: vcpus }, (_, i) => runPageOf(pagesMemory, i));
  const producer = new RequestRing(ringMemory);
  const bus = new RecordingBus();
  const errors: unknown[] = [];
  const loop = new IoLoop({ ring: new RequestRing(ringMemory), pages, bus, wait: 'block', onError: (e) => errors.push(e), countPortExits });
  return { pages, producer, bus, loop, errors };
}

describe('IoLoop (main-thread dispatch, single thread)', () => {
  it('stamps the wake-up time in the run page when it completes an exit for a sleeping vCPU, and only then', () => {
    const { pages, producer, loop } = setup(1);
    const page = pages[0];
    post(page, producer, 1, DIR_OUT, 0xe0, 1, 7);
    loop.drain();
    expect(page.wokenAt[0]).toBe(0); // the vCPU was spinning: nobody to wake, no stamp
    Atomics.store(page.fields, RP_SLEEPING, 1);
    post(page, producer, 2, DIR_OUT, 0xe0, 1, 8);
    const before = sharedNowMs();
    loop.drain();
    expect(page.wokenAt[0]).toBeGreaterThanOrEqual(before);
    expect(page.wokenAt[0]).toBeLessThanOrEqual(sharedNowMs());
  });

  it('serves fast and string exits in arrival order and publishes completions', () => {
    const { pages, producer, bus, loop } = setup(3);
    post(pages[2], producer, 1, DIR_OUT, 0xe0, 4, -1);
    post(pages[0], producer, 1, DIR_IN, 0x3fd, 1);
    pages[1].data.set([1, 2, 3, 4], 0);
    post(pages[1], producer, 1, DIR_OUT, 0x3f8, 2, 0, 2, 1);
    expect(loop.drain()).toBe(3);
    expect(bus.log).toEqual([`w2:224/4=${0xffffffff}`, 'r0:1021/1', 'ws1:1016/2x2:1,2,3,4']);
    expect(pages[0].fields[RP_VALUE]).toBe(0x1234);
    for (const p of pages) expect(p.fields[RP_STATE]).toBe(STATE_EXIT_DONE);
    expect(Array.from(loop.servedBy)).toEqual([1, 1, 1]);
    post(pages[0], producer, 2, DIR_IN, 0x60, 1, 0, 3, 1);
    loop.drain();
    expect(Array.from(pages[0].data.subarray(0, 4))).toEqual([0xab, 0xab, 0xab, 0]);
  });

  it('counts exits by port and vCPU only when asked (countPortExits), one per exit, a string batch once', () => {
    const off = setup(2);
    post(off.pages[0], off.producer, 1, DIR_OUT, 0xe0, 1, 7);
    off.loop.drain();
    expect(off.loop.portExits).toBeNull();
    expect(off.loop.served).toBe(1);
    const on = setup(3, true);
    post(on.pages[0], on.producer, 1, DIR_OUT, 0xe0, 1, 7);
    post(on.pages[1], on.producer, 1, DIR_IN, 0xe0, 1);
    post(on.pages[2], on.producer, 1, DIR_OUT, 0x3f8, 1, 0, 3, 1);
    expect(on.loop.drain()).toBe(3);
    expect(on.loop.portExits!.rows()).toEqual([{ port: 0xe0, exits: [1, 1, 0] }, { port: 0x3f8, exits: [0, 0, 1] }]);
    expect(on.loop.portExits!.byPortDir[(0xe0 << 1) | 1]).toBe(1);
  });

  it('skips a dead vCPU\'s descriptor and a stale one: no device sees them', () => {
    const { pages, producer, bus, loop } = setup(2);
    post(pages[1], producer, 7, DIR_OUT, 0xe0, 1, 5);
    loop.markDead(1);
    post(pages[0], producer, 1, DIR_OUT, 0xe0, 1, 6);
    producer.push(0, 99); // a descriptor whose exit sequence is not the page's
    expect(loop.drain()).toBe(3);
    expect(bus.log).toEqual(['w0:224/1=6']);
    expect(loop.aborted).toBe(2);
    expect(pages[1].fields[RP_STATE]).toBe(STATE_EXIT_PENDING); // nobody waits on a dead page
  });

  it('after abort(): pending exits, in the ring or not, complete as aborted without reaching devices', () => {
    const { pages, producer, bus, loop } = setup(2);
    post(pages[0], producer, 1, DIR_OUT, 0xe0, 1, 1);
    Atomics.store(pages[1].fields, RP_STATE, STATE_EXIT_PENDING); // claimed, never pushed
    loop.abort();
    expect(pages[1].fields[RP_STATE]).toBe(STATE_EXIT_ABORTED);
    expect(pages[0].fields[RP_STATE]).toBe(STATE_EXIT_ABORTED);
    post(pages[1], producer, 2, DIR_IN, 0x71, 1);
    loop.drain();
    expect(pages[1].fields[RP_STATE]).toBe(STATE_EXIT_ABORTED);
    expect(bus.log).toEqual([]);
  });

  it('an exit whose device access stops the VM (isa-debug-exit) completes as served-and-stop, not aborted', () => {
    const { pages, producer, bus, loop } = setup(2);
    const stopping: ExitBus = {
      hasCoalescedZones: false, graceWaiting: false, drainCoalesced: () => 0, drainAllCoalesced: () => 0,
      serveRead: bus.serveRead.bind(bus), serveReadString: bus.serveReadString.bind(bus), serveWriteString: bus.serveWriteString.bind(bus),
      serveWrite: (vcpu, d, b, port, size, value) => { bus.serveWrite(vcpu, d, b, port, size, value); loop.abort(); },
    };
    (loop as unknown as { bus: ExitBus }).bus = stopping;
    Atomics.store(pages[1].fields, RP_STATE, STATE_EXIT_PENDING); // another vCPU, mid-exit
    post(pages[0], producer, 1, DIR_OUT, 0xf4, 1, 3);
    loop.drain();
    expect(bus.log).toEqual(['w0:244/1=3']);
    expect(pages[0].fields[RP_STATE]).toBe(STATE_EXIT_DONE_STOP); // served; the vCPU must stop after it
    expect(pages[1].fields[RP_STATE]).toBe(STATE_EXIT_ABORTED);
    expect(loop.served).toBe(1);
    expect(loop.aborted).toBe(1); // only vCPU 1's exit
  });

  it('a device that throws becomes an error report, and the vCPU is not left waiting', () => {
    const { pages, producer, loop, errors } = setup(1);
    const bad = new RecordingBus();
    bad.serveWrite = () => { throw new Error('device exploded'); };
    const loop2 = new IoLoop({ ring: (loop as unknown as { o: { ring: RequestRing } }).o.ring, pages, bus: bad, wait: 'block', onError: (e) => errors.push(e) });
    post(pages[0], producer, 1, DIR_OUT, 0xe0, 1, 1);
    loop2.drain();
    expect(String(errors[0])).toMatch(/device exploded/);
    expect(pages[0].fields[RP_STATE]).toBe(STATE_EXIT_ABORTED);
  });
});

describe('process lifetime', () => {
  // Node 20 does not keep a process alive for a pending Atomics.waitAsync: the VM must hold the
  // process open while it runs, and must release everything when it ends.
  for (const wait of ['block', 'adaptive', 'spin'] as const) {
    it(`a script that only awaits runVm neither exits early nor hangs (${wait})`, () => {
      const vm = fileURLToPath(new URL('../../dist/src/vm.js', import.meta.url));
      const guest = fileURLToPath(new URL('../../guests/runtime/hammer.bin', import.meta.url));
      const script = `
        import { readFileSync } from 'node:fs';
        const { runVm } = await import(${JSON.stringify(vm)});
        const r = await runVm({ guest: readFileSync(${JSON.stringify(guest)}), vcpus: 2, wait: '${wait}' });
        console.log('outcome', r.outcome.kind, r.vcpus.map((v) => v.exits.total).join(','));`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000, encoding: 'utf8' });
      expect(child.error, 'the process hung').toBeUndefined();
      expect(child.stderr).toBe('');
      expect(child.stdout.trim()).toBe('outcome halted 200,200');
      expect(child.status).toBe(0);
    });
  }
});
