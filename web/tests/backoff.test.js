// Reconnect backoff: full jitter within min(cap, base·2^n).
import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffCeiling, backoffDelay } from "../backoff.js";

test("delay is drawn from [0, min(cap, base·2^n))", () => {
  const expected = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000];
  expected.forEach((ceiling, n) => {
    assert.equal(backoffCeiling(n), ceiling);
    assert.equal(backoffDelay(n, { random: () => 0 }), 0);
    assert.equal(backoffDelay(n, { random: () => 0.5 }), ceiling / 2);
    assert.ok(backoffDelay(n, { random: () => 0.999999 }) < ceiling);
  });
});

test("huge attempt counts stay at the cap", () => {
  assert.equal(backoffCeiling(10_000), 30_000);
  assert.ok(backoffDelay(1e9, { random: () => 0.9999 }) <= 30_000);
});

test("custom base and cap; random is clamped", () => {
  assert.equal(backoffDelay(3, { base: 100, cap: 250, random: () => 1 }), 250);
  assert.equal(backoffDelay(0, { random: () => -5 }), 0);
  assert.equal(backoffDelay(-3, { random: () => 0.5 }), 250);
});

test("default randomness stays within bounds", () => {
  for (let i = 0; i < 1000; i++) {
    const n = i % 12;
    const d = backoffDelay(n);
    assert.ok(d >= 0 && d < backoffCeiling(n) + 1, `${d}`);
  }
});
