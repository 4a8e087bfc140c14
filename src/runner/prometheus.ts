import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValueWithName } from "prom-client";
import type { MetricsSnapshot } from "../supervisor/metrics.js";
import type { TelemetryStatus } from "../telemetry/telemetry.js";

type LatencyLabel = "name" | "version" | "method";
type LatencyValue = MetricValueWithName<LatencyLabel | "le">;

/**
 * A histogram exposed from bucket counts kept elsewhere: prom-client's Histogram only observes values one at a time,
 * while the supervisor counts its calls per bucket on the hot path. Both of the registry's read paths are given.
 */
class BucketHistogram extends Histogram<LatencyLabel> {
  #values: LatencyValue[] = [];
  readonly #text: { name: string; help: string };

  constructor(config: ConstructorParameters<typeof Histogram<LatencyLabel>>[0]) {
    super(config);
    this.#text = { name: config.name, help: config.help };
  }

  /** The cumulative buckets, sums and counts of every label set (replacing the last ones). */
  replace(values: LatencyValue[]): void {
    this.#values = values;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<LatencyLabel>>> {
    // prom-client's declared MetricType is an enum, its registry writes the runtime string: "histogram".
    return { ...this.#text, type: "histogram" as unknown as MetricObjectWithValues<LatencyValue>["type"],
      values: this.#values, aggregator: "sum", collect: () => undefined };
  }

  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<LatencyLabel>>> {
    return this.get();
  }
}

/**
 * The Prometheus exposition of the supervisor's metrics snapshot. The supervisor counts in plain data on the hot
 * path; this registry is filled from a snapshot at scrape time, so a scrape costs nothing between scrapes.
 */
export class PrometheusExporter {
  readonly registry = new Registry();
  readonly #calls = new Counter({ name: "procvision_calls_total", help: "calls by package, version, method, status and error code",
    labelNames: ["name", "version", "method", "status", "error_code"], registers: [this.registry] });
  readonly #latency = new BucketHistogram({ name: "procvision_call_latency_ms", help: "call latency (ms)", labelNames: ["name", "version", "method"], registers: [this.registry] });
  readonly #queue = new Gauge({ name: "procvision_queue_depth", help: "calls waiting to start (queued, or held by a worker behind its running call)", labelNames: ["name", "version"], registers: [this.registry] });
  readonly #inflight = new Gauge({ name: "procvision_inflight_calls", help: "calls running in workers", labelNames: ["name", "version"], registers: [this.registry] });
  readonly #ready = new Gauge({ name: "procvision_workers_ready", help: "workers ready for calls", labelNames: ["name", "version"], registers: [this.registry] });
  readonly #restarts = new Counter({ name: "procvision_worker_restarts_total", help: "worker restarts", labelNames: ["name", "version"], registers: [this.registry] });
  readonly #retries = new Counter({ name: "procvision_call_retries_total", help: "calls retried", labelNames: ["name", "version"], registers: [this.registry] });
  readonly #breaker = new Gauge({ name: "procvision_breaker_state", help: "circuit breaker: 0 closed, 1 half-open, 2 open", labelNames: ["name", "version"], registers: [this.registry] });
  readonly #shm = new Gauge({ name: "procvision_shm_bytes", help: "shared memory mapped for images", registers: [this.registry] });
  readonly #sessions = new Gauge({ name: "procvision_sessions", help: "live sessions", registers: [this.registry] });

  readonly #outbox = new Gauge({ name: "procvision_telemetry_outbox_depth", help: "telemetry objects waiting for upload, by kind", labelNames: ["kind"], registers: [this.registry] });
  readonly #lines = new Gauge({ name: "procvision_telemetry_pending_lines", help: "telemetry NDJSON lines not yet in a batch, by kind", labelNames: ["kind"], registers: [this.registry] });
  readonly #oldest = new Gauge({ name: "procvision_telemetry_oldest_pending_seconds", help: "age of the oldest telemetry item not yet uploaded (0: none)", registers: [this.registry] });
  readonly #lastSuccess = new Gauge({ name: "procvision_telemetry_last_success_timestamp_seconds", help: "time of the last successful upload (0: never)", registers: [this.registry] });
  readonly #sent = new Counter({ name: "procvision_telemetry_sent_bytes_total", help: "bytes uploaded", registers: [this.registry] });
  readonly #objects = new Counter({ name: "procvision_telemetry_sent_objects_total", help: "objects uploaded", registers: [this.registry] });
  readonly #failures = new Counter({ name: "procvision_telemetry_failures_total", help: "failed upload attempts", registers: [this.registry] });
  readonly #dropped = new Counter({ name: "procvision_telemetry_dropped_by_quota_total", help: "kept images removed by quota_mb before they were uploaded", registers: [this.registry] });
  readonly #paused = new Gauge({ name: "procvision_telemetry_paused", help: "1 while uploads are paused", registers: [this.registry] });
  readonly #artifactBytes = new Gauge({ name: "procvision_telemetry_artifact_bytes", help: "bytes of images kept under artifacts/", registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "procvision_runner_" });
  }

  async render(snapshot: MetricsSnapshot, telemetry?: TelemetryStatus): Promise<{ contentType: string; body: string }> {
    // Totals are counted elsewhere (the snapshot): each scrape resets a counter and adds the total back, so the
    // exposition types it as the counter it is.
    for (const metric of [this.#calls, this.#restarts, this.#retries, this.#queue, this.#inflight, this.#ready, this.#breaker]) metric.reset();
    if (telemetry) this.#setTelemetry(telemetry);
    const latency: LatencyValue[] = [];
    for (const pool of snapshot.pools) {
      const id = { name: pool.name, version: pool.version };
      for (const c of pool.calls) this.#calls.inc({ ...id, method: c.method, status: c.status, error_code: c.error_code }, c.count);
      for (const h of pool.latency) {
        const labels = { ...id, method: h.method };
        let cumulative = 0;
        h.counts.forEach((count, i) => {
          cumulative += count;
          const le = i < snapshot.latency_buckets_ms.length ? snapshot.latency_buckets_ms[i]! : "+Inf";
          latency.push({ metricName: "procvision_call_latency_ms_bucket", labels: { ...labels, le }, value: cumulative });
        });
        latency.push({ metricName: "procvision_call_latency_ms_sum", labels, value: h.sum_ms }, { metricName: "procvision_call_latency_ms_count", labels, value: h.count });
      }
      this.#queue.set(id, pool.queue_depth);
      this.#inflight.set(id, pool.inflight);
      this.#ready.set(id, pool.workers_ready);
      this.#restarts.inc(id, pool.worker_restarts);
      this.#retries.inc(id, pool.retries);
      this.#breaker.set(id, pool.breaker_state);
    }
    this.#latency.replace(latency);
    this.#shm.set(snapshot.shm_bytes);
    this.#sessions.set(snapshot.sessions);
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  #setTelemetry(t: TelemetryStatus): void {
    for (const counter of [this.#sent, this.#objects, this.#failures, this.#dropped]) counter.reset();
    for (const [kind, n] of Object.entries(t.depth)) this.#outbox.set({ kind }, n);
    for (const [kind, n] of Object.entries(t.pending_lines)) this.#lines.set({ kind }, n);
    this.#oldest.set((t.oldest_pending_age_ms ?? 0) / 1000);
    this.#lastSuccess.set(t.last_success === null ? 0 : Date.parse(t.last_success) / 1000);
    this.#sent.inc(t.bytes_sent);
    this.#objects.inc(t.objects_sent);
    this.#failures.inc(t.failures);
    this.#dropped.inc(t.dropped_by_quota);
    this.#paused.set(t.paused ? 1 : 0);
    this.#artifactBytes.set(t.artifacts.bytes);
  }
}
