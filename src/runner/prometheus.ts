import { Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { MetricsSnapshot } from "../supervisor/metrics.js";

/**
 * The Prometheus exposition of the supervisor's metrics snapshot. The supervisor counts in plain data on the hot
 * path; this registry is filled from a snapshot at scrape time, so a scrape costs nothing between scrapes.
 */
export class PrometheusExporter {
  readonly registry = new Registry();
  readonly #calls = new Gauge({ name: "procvision_calls_total", help: "calls by package, version, method, status and error code",
    labelNames: ["name", "version", "method", "status", "error_code"], registers: [this.registry] });
  readonly #latency = new Gauge({ name: "procvision_call_latency_ms_bucket", help: "call latency histogram buckets (cumulative, ms)",
    labelNames: ["name", "version", "method", "le"], registers: [this.registry] });
  readonly #latencySum = new Gauge({ name: "procvision_call_latency_ms_sum", help: "sum of call latencies (ms)", labelNames: ["name", "version", "method"], registers: [this.registry] });
  readonly #latencyCount = new Gauge({ name: "procvision_call_latency_ms_count", help: "number of timed calls", labelNames: ["name", "version", "method"], registers: [this.registry] });
  readonly #queue = new Gauge({ name: "procvision_queue_depth", help: "calls waiting to start (queued, or held by a worker behind its running call)", labelNames: ["name", "version"], registers: [this.registry] });
  readonly #inflight = new Gauge({ name: "procvision_inflight_calls", help: "calls running in workers", labelNames: ["name", "version"], registers: [this.registry] });
  readonly #ready = new Gauge({ name: "procvision_workers_ready", help: "workers ready for calls", labelNames: ["name", "version"], registers: [this.registry] });
  readonly #restarts = new Gauge({ name: "procvision_worker_restarts_total", help: "worker restarts", labelNames: ["name", "version"], registers: [this.registry] });
  readonly #retries = new Gauge({ name: "procvision_call_retries_total", help: "calls retried", labelNames: ["name", "version"], registers: [this.registry] });
  readonly #breaker = new Gauge({ name: "procvision_breaker_state", help: "circuit breaker: 0 closed, 1 half-open, 2 open", labelNames: ["name", "version"], registers: [this.registry] });
  readonly #shm = new Gauge({ name: "procvision_shm_bytes", help: "shared memory mapped for images", registers: [this.registry] });
  readonly #sessions = new Gauge({ name: "procvision_sessions", help: "live sessions", registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "procvision_runner_" });
  }

  async render(snapshot: MetricsSnapshot): Promise<{ contentType: string; body: string }> {
    for (const gauge of [this.#calls, this.#latency, this.#latencySum, this.#latencyCount, this.#queue, this.#inflight, this.#ready, this.#restarts, this.#retries, this.#breaker]) gauge.reset();
    for (const pool of snapshot.pools) {
      const id = { name: pool.name, version: pool.version };
      for (const c of pool.calls) this.#calls.set({ ...id, method: c.method, status: c.status, error_code: c.error_code }, c.count);
      for (const h of pool.latency) {
        let cumulative = 0;
        h.counts.forEach((count, i) => {
          cumulative += count;
          const le = i < snapshot.latency_buckets_ms.length ? String(snapshot.latency_buckets_ms[i]) : "+Inf";
          this.#latency.set({ ...id, method: h.method, le }, cumulative);
        });
        this.#latencySum.set({ ...id, method: h.method }, h.sum_ms);
        this.#latencyCount.set({ ...id, method: h.method }, h.count);
      }
      this.#queue.set(id, pool.queue_depth);
      this.#inflight.set(id, pool.inflight);
      this.#ready.set(id, pool.workers_ready);
      this.#restarts.set(id, pool.worker_restarts);
      this.#retries.set(id, pool.retries);
      this.#breaker.set(id, pool.breaker_state);
    }
    this.#shm.set(snapshot.shm_bytes);
    this.#sessions.set(snapshot.sessions);
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
