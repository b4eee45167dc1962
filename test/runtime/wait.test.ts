import { describe, expect, it } from 'vitest';
import { sharedNowMs, toLocalMs } from '../../src/exit/shared-clock.js';
import {
  HALT_POLL_GROW_START_NS, HALT_POLL_MAX_NS, HaltPoll, OVERCOMMIT_HOLD_SLEEPS, peerDelayNs, POLL_WINDOW_WAITS,
} from '../../src/exit/wait.js';

describe('HaltPoll (adaptive spin budget, after KVM halt polling)', () => {
  it('grows from the start value by doubling after short sleeps, up to the max', () => {
    const p = new HaltPoll();
    expect(p.budgetNs).toBe(HALT_POLL_GROW_START_NS);
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) { p.update(HALT_POLL_MAX_NS / 2); seen.push(p.budgetNs); }
    expect(seen).toEqual([20_000, 40_000, 80_000, 160_000, 200_000, 200_000, 200_000, 200_000]);
  });

  it('halves after long sleeps and drops to zero below half the start value, then regrows', () => {
    const p = new HaltPoll();
    for (let i = 0; i < 5; i++) p.update(1000);
    expect(p.budgetNs).toBe(HALT_POLL_MAX_NS);
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) { p.update(HALT_POLL_MAX_NS + 1); seen.push(p.budgetNs); }
    expect(seen).toEqual([100_000, 50_000, 25_000, 12_500, 6_250, 0]);
    p.update(1000);
    expect(p.budgetNs).toBe(HALT_POLL_GROW_START_NS);
  });

  it('honours a custom ceiling', () => {
    const p = new HaltPoll(1_000_000);
    for (let i = 0; i < 6; i++) p.update(500_000); // longer than the vCPU ceiling, shorter than this one
    expect(p.budgetNs).toBe(640_000);
    p.update(500_000);
    expect(p.budgetNs).toBe(1_000_000);
    p.update(1_000_001);
    expect(p.budgetNs).toBe(500_000);
  });
});

describe('HaltPoll window rule', () => {
  it('stops polling when most waits of a window slept despite a budget, and keeps it when polls succeed', () => {
    const failing = new HaltPoll();
    const healthy = new HaltPoll();
    for (let i = 0; i < POLL_WINDOW_WAITS; i++) {
      // failing: 2 of 3 waits sleep (short sleeps, which alone would grow the budget)
      if (i % 3 === 0) failing.hit(); else failing.update(1000);
      // healthy: 1 in 64 waits sleeps
      if (i % 64 === 0) healthy.update(1000); else healthy.hit();
    }
    expect(failing.budgetNs).toBe(0);
    expect(failing.overcommits).toBe(1);
    expect(healthy.budgetNs).toBeGreaterThan(0);
    expect(healthy.overcommits).toBe(0);
    // Held at zero for OVERCOMMIT_HOLD_SLEEPS sleeps, then the KVM rules grow it again.
    for (let i = 0; i < OVERCOMMIT_HOLD_SLEEPS; i++) failing.update(1000);
    expect(failing.budgetNs).toBe(0);
    failing.update(1000);
    expect(failing.budgetNs).toBe(HALT_POLL_GROW_START_NS);
  });
});

describe('peerDelayNs (what a sleep tells halt polling)', () => {
  // A wait from t=100 ms (this thread's clock), spinning until 100.05, asleep until 100.5.
  // On the shared clock (~1.8e12 ms), a double resolves ~0.25 us: compare to within 0.5 us.
  const shared = (localMs: number): number => performance.timeOrigin + localMs;

  it('is the time to the peer\'s wake-up stamp when the stamp falls in this sleep, not the slow wake-up after it', () => {
    expect(peerDelayNs(100, 100.05, 100.5, shared(100.12))).toBeCloseTo(120_000, -3);
    // A 300 us wake-up on top of a 60 us answer still counts as 60 us: below the ceiling, so polling grows.
    const p = new HaltPoll();
    p.update(peerDelayNs(100, 100.01, 100.36, shared(100.06)));
    expect(p.budgetNs).toBe(2 * HALT_POLL_GROW_START_NS);
  });

  it('is the whole wait without a stamp of this sleep: an older one, a timeout or clock skew past the end', () => {
    expect(peerDelayNs(100, 100.05, 100.5, shared(99))).toBeCloseTo(500_000, -3); // a previous sleep's stamp
    expect(peerDelayNs(100, 100.05, 100.5, 0)).toBeCloseTo(500_000, -3); // never stamped
    expect(peerDelayNs(100, 100.05, 100.5, shared(100.7))).toBeCloseTo(500_000, -3); // after we woke: not ours
  });

  it('never goes negative', () => {
    expect(peerDelayNs(100, 100, 100, shared(100))).toBe(0);
  });

  it('converts between this thread\'s clock and the shared one', () => {
    const local = performance.now();
    expect(toLocalMs(sharedNowMs())).toBeGreaterThanOrEqual(local);
    expect(toLocalMs(sharedNowMs()) - performance.now()).toBeLessThan(1);
  });
});
