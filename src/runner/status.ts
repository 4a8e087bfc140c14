import type { Binding } from "../store/repository.js";
import type { MetricsSnapshot } from "../supervisor/metrics.js";
import type { SupervisorPoolStatus } from "../supervisor/supervisor.js";

export interface RunnerStatus {
  root: string;
  packages: number;
  bindings: Binding[];
  pools: { name: string; version: string; state: string; circuit: string; sessions: number }[];
  workers: {
    name: string; version: string; slot: number; pid: number | null; state: string; uptime_ms: number | null; restarts: number;
    /** Calls sent to the worker and not answered: the running one and those held behind it (short calls). */
    calls: number; inflight: number; heartbeat_age_ms: number | null; circuit: string;
  }[];
  /** What keeps bound PIDs from being inspected right now (empty: healthy); /health says `degraded` when there is any. */
  problems: string[];
}

/** Health as `status()` reports it: the store's counts and bindings, each pool and each of its workers flattened. */
export function runnerStatus(store: { root: string; packages: number; bindings: Binding[] }, pools: readonly SupervisorPoolStatus[], supervised = true): RunnerStatus {
  return {
    ...store,
    problems: supervised ? healthProblems(store.bindings, pools) : [],
    pools: pools.map((p) => ({ name: p.name, version: p.version, state: p.state, circuit: p.circuit, sessions: p.sessions })),
    workers: pools.flatMap((p) => p.workers.map((w) => ({
      name: p.name, version: p.version, slot: w.slot, pid: w.pid, state: w.state, uptime_ms: w.uptime_ms, restarts: w.restarts,
      calls: w.calls, inflight: w.inflight, heartbeat_age_ms: w.last_heartbeat_age_ms, circuit: w.circuit,
    }))),
  };
}

/** The metrics of a runner that runs no workers (opened with its own host). */
export const NO_WORKER_METRICS: MetricsSnapshot = { pools: [], sessions: 0, shm_bytes: 0, latency_buckets_ms: [] };

/** Per bound version: not running, its circuit open, or none of its workers up (a crash loop, a hung start). */
export function healthProblems(bindings: readonly Binding[], pools: readonly SupervisorPoolStatus[]): string[] {
  const pidsOf = new Map<string, string[]>();
  for (const b of bindings) {
    const label = `${b.name} ${b.version}`;
    pidsOf.set(label, [...(pidsOf.get(label) ?? []), b.pid]);
  }
  return [...pidsOf].flatMap(([label, pids]) => {
    const pool = pools.find((p) => `${p.name} ${p.version}` === label);
    const why = pool === undefined || (pool.state !== "running" && pool.state !== "draining") ? "is not running"
      : pool.circuit !== "closed" ? `has its circuit ${pool.circuit} (workers crash)`
        : pool.workers.every((w) => w.state !== "idle" && w.state !== "busy") ? "has no worker up" : undefined;
    return why === undefined ? [] : [`${pids.join(", ")}: ${label} ${why}`];
  });
}
