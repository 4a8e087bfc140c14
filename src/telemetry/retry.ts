/** Retry delays while the target is unreachable: pure, so the schedule is tested without a server. */

export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 500, maxMs: 30_000 };

/**
 * Delay after `failures` failed uploads in a row (1-based): exponential from base, capped at max, with "equal
 * jitter" (half fixed, half random) so a plant's stations coming back online do not retry in lock step.
 */
export function retryDelay(failures: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** When the next object may start so that the average stays within `maxKbps` (kilobits per second). */
export function paceUntil(startedMs: number, bytes: number, maxKbps: number | undefined): number {
  if (maxKbps === undefined) return startedMs;
  return startedMs + (bytes * 8) / maxKbps;
}
