import { Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { MetricsSnapshot } from "../supervisor/metrics.js";
import type { TelemetryStatus } from "../telemetry/telemetry.js";

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

  readonly #outbox = new Gauge({ name: "procvision_telemetry_outbox_depth", help: "telemetry objects waiting for upload, by kind", labelNames: ["kind"], registers: [this.registry] });
  readonly #lines = new Gauge({ name: "procvision_telemetry_pending_lines", help: "telemetry NDJSON lines not yet in a batch, by kind", labelNames: ["kind"], registers: [this.registry] });
  readonly #oldest = new Gauge({ name: "procvision_telemetry_oldest_pending_seconds", help: "age of the oldest telemetry item not yet uploaded (0: none)", registers: [this.registry] });
  readonly #lastSuccess = new Gauge({ name: "procvision_telemetry_last_success_timestamp_seconds", help: "time of the last successful upload (0: never)", registers: [this.registry] });
  readonly #sent = new Gauge({ name: "procvision_telemetry_sent_bytes_total", help: "bytes uploaded", registers: [this.registry] });
  readonly #objects = new Gauge({ name: "procvision_telemetry_sent_objects_total", help: "objects uploaded", registers: [this.registry] });
  readonly #failures = new Gauge({ name: "procvision_telemetry_failures_total", help: "failed upload attempts", registers: [this.registry] });
  readonly #dropped = new Gauge({ name: "procvision_telemetry_dropped_by_quota_total", help: "kept images removed by quota_mb before they were uploaded", registers: [this.registry] });
  readonly #paused = new Gauge({ name: "procvision_telemetry_paused", help: "1 while uploads are paused", registers: [this.registry] });
  readonly #artifactBytes = new Gauge({ name: "procvision_telemetry_artifact_bytes", help: "bytes of images kept under artifacts/", registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "procvision_runner_" });
  }

  async render(snapshot: MetricsSnapshot, telemetry?: TelemetryStatus): Promise<{ contentType: string; body: string }> {
    if (telemetry) this.#setTelemetry(telemetry);
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

  #setTelemetry(t: TelemetryStatus): void {
    for (const [kind, n] of Object.entries(t.depth)) this.#outbox.set({ kind }, n);
    for (const [kind, n] of Object.entries(t.pending_lines)) this.#lines.set({ kind }, n);
    this.#oldest.set((t.oldest_pending_age_ms ?? 0) / 1000);
    this.#lastSuccess.set(t.last_success === null ? 0 : Date.parse(t.last_success) / 1000);
    this.#sent.set(t.bytes_sent);
    this.#objects.set(t.objects_sent);
    this.#failures.set(t.failures);
    this.#dropped.set(t.dropped_by_quota);
    this.#paused.set(t.paused ? 1 : 0);
    this.#artifactBytes.set(t.artifacts.bytes);
  }
}
