/** Counters and histograms as plain data; the Prometheus exposition maps these one to one. */

/** Upper bounds (ms) of the latency buckets; an implicit +Inf bucket follows. */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000] as const;

export interface CallCounter {
  method: string;
  status: string;
  /** "" when the call carried no error code. */
  error_code: string;
  count: number;
}

export interface LatencyHistogram {
  method: string;
  /** Same length as LATENCY_BUCKETS_MS + 1 (the last is +Inf); per-bucket (not cumulative) counts. */
  counts: number[];
  sum_ms: number;
  count: number;
}

export interface PoolMetrics {
  name: string;
  version: string;
  state: string;
  calls: CallCounter[];
  latency: LatencyHistogram[];
  queue_depth: number;
  inflight: number;
  workers_ready: number;
  worker_restarts: number;
  retries: number;
  /** 0 closed, 1 half-open, 2 open. */
  breaker_state: number;
  breaker_opens: number;
  shm_bytes: number;
}

export interface MetricsSnapshot {
  pools: PoolMetrics[];
  sessions: number;
  shm_bytes: number;
  latency_buckets_ms: readonly number[];
}

export function bucketIndex(ms: number): number {
  const i = LATENCY_BUCKETS_MS.findIndex((b) => ms <= b);
  return i === -1 ? LATENCY_BUCKETS_MS.length : i;
}

export class CallMetrics {
  readonly #calls = new Map<string, CallCounter>();
  readonly #latency = new Map<string, LatencyHistogram>();

  observe(method: string, status: string, errorCode: string | null, latencyMs: number): void {
    const code = errorCode ?? "";
    const key = `${method}\u0000${status}\u0000${code}`;
    const counter = this.#calls.get(key);
    if (counter) counter.count++;
    else this.#calls.set(key, { method, status, error_code: code, count: 1 });
    let h = this.#latency.get(method);
    if (!h) {
      h = { method, counts: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0), sum_ms: 0, count: 0 };
      this.#latency.set(method, h);
    }
    const i = bucketIndex(latencyMs);
    h.counts[i] = (h.counts[i] ?? 0) + 1;
    h.sum_ms += latencyMs;
    h.count++;
  }

  snapshot(): { calls: CallCounter[]; latency: LatencyHistogram[] } {
    return {
      calls: [...this.#calls.values()].map((c) => ({ ...c })),
      latency: [...this.#latency.values()].map((h) => ({ ...h, counts: [...h.counts] })),
    };
  }
}
