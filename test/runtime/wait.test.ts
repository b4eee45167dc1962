import { describe, expect, it } from 'vitest';
import {
  HALT_POLL_GROW_START_NS, HALT_POLL_MAX_NS, HaltPoll, OVERCOMMIT_HOLD_SLEEPS, POLL_WINDOW_WAITS,
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
