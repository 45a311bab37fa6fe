// @ts-check
/** Reconnect delays: exponential backoff with full jitter (docs/protocol.md §5). Pure; the same rule as `signaling/backoff.py` for the Python parts. */

/** Defaults from the protocol: base 0.5 s, cap 30 s. */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 30_000;

/**
 * Delay before reconnect attempt `attempt` (0 = first retry):
 * random(0, min(cap, base·2^attempt)). Full jitter spreads a herd of clients that
 * lost the same server over the whole window instead of bunching them up.
 *
 * @param {number} attempt  failed attempts so far (>= 0)
 * @param {{base?: number, cap?: number, random?: () => number}} [options]
 *   `random` returns [0, 1) like Math.random (the default); inject it in tests.
 * @returns {number} milliseconds, 0 <= delay < min(cap, base·2^attempt)
 */
export function backoffDelay(attempt, options = {}) {
  const { base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS, random = Math.random } = options;
  const n = Math.max(0, Math.floor(attempt));
  // 2 ** 60 would still be finite, but clamp the exponent so huge counts stay cheap.
  const window = Math.min(cap, base * 2 ** Math.min(n, 30));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * window);
}

/**
 * The upper bound of the jitter window for `attempt` — what the delay is drawn below.
 * @param {number} attempt
 * @param {{base?: number, cap?: number}} [options]
 */
export function backoffCeiling(attempt, options = {}) {
  const { base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS } = options;
  return Math.min(cap, base * 2 ** Math.min(Math.max(0, Math.floor(attempt)), 30));
}
