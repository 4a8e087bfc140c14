/** Restart delays for a worker slot: pure, so the schedule is unit-tested without processes. */

export interface BackoffPolicy {
  /** Delay before the second restart in a row; the first restart is immediate (a single crash costs no wait). */
  baseMs: number;
  maxMs: number;
  /** A worker that stayed up this long (or answered a call) is healthy: its next crash starts the schedule over. */
  stableUptimeMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 30_000, stableUptimeMs: 30_000 };

/** Delay before restart number `failures` in a row (1-based): 0, base, 2·base, 4·base, … capped at max. */
export function backoffDelay(failures: number, policy: BackoffPolicy): number {
  if (failures <= 1) return 0;
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(failures - 2, 30));
}

/** Consecutive failures after a worker that ran for `uptimeMs` was lost (0 for a start that never got ready). */
export function nextFailureCount(previous: number, uptimeMs: number, policy: BackoffPolicy): number {
  return (uptimeMs >= policy.stableUptimeMs ? 0 : previous) + 1;
}
