/**
 * Circuit breaker of one package version, as a pure state machine over plain data (contract §7): more than
 * `maxCrashes` worker losses within `windowMs` open it; while open (and half-open) calls fail fast with 3003; after
 * `cooldownMs` one probe start is tried (half-open); a probe that gets ready closes it, one that fails reopens it.
 */

export type CircuitState = "closed" | "open" | "half_open";

export interface BreakerPolicy {
  maxCrashes: number;
  windowMs: number;
  cooldownMs: number;
}

export interface Breaker {
  readonly state: CircuitState;
  /** Times of the crashes still inside the window (closed state only). */
  readonly crashes: readonly number[];
  /** When it last opened; null when closed. */
  readonly openedAt: number | null;
}

export const closedBreaker: Breaker = { state: "closed", crashes: [], openedAt: null };

/** Records a worker loss at `now`. A crash while already open or half-open changes nothing: the probe decides. */
export function onCrash(b: Breaker, now: number, policy: BreakerPolicy): Breaker {
  if (b.state !== "closed") return b;
  const crashes = [...b.crashes.filter((t) => now - t < policy.windowMs), now];
  // "More than breaker_max_crashes" (contract §7): the crash after the tolerated ones opens the circuit.
  return crashes.length > policy.maxCrashes ? { state: "open", crashes: [], openedAt: now } : { ...b, crashes };
}

export function allowsCalls(b: Breaker): boolean {
  return b.state === "closed";
}

/** Milliseconds until a probe may start (0 = now); undefined when no probe is due (closed or probing). */
export function probeDelay(b: Breaker, now: number, policy: BreakerPolicy): number | undefined {
  if (b.state !== "open" || b.openedAt === null) return undefined;
  return Math.max(0, b.openedAt + policy.cooldownMs - now);
}

export function onProbeStart(b: Breaker): Breaker {
  return b.state === "open" ? { ...b, state: "half_open" } : b;
}

/** A probe that got ready closes the circuit with a clean history; a failed one reopens it for another cool-down. */
export function onProbeResult(b: Breaker, ok: boolean, now: number): Breaker {
  if (b.state !== "half_open") return b;
  return ok ? closedBreaker : { state: "open", crashes: [], openedAt: now };
}
