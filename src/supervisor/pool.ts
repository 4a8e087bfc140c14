import { performance } from "node:perf_hooks";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import type { CallPayload, Generation, SessionPayload, StepPayload } from "../protocol/messages.js";
import type { Segment } from "../shm/segment.js";
import { CallNotStarted, Worker, type CallResult, type WorkerExit, type WorkerOptions } from "../worker/worker.js";
import { backoffDelay, DEFAULT_BACKOFF, nextFailureCount, type BackoffPolicy } from "./backoff.js";
import {
  allowsCalls, closedBreaker, onCrash, onProbeResult, onProbeStart, probeDelay,
  type Breaker, type BreakerPolicy, type CircuitState,
} from "./breaker.js";
import { chooseDispatch, MAX_PIPELINE_DEPTH, PIPELINE_MAX_CALL_MS, pipelineDepth, type SlotView } from "./dispatch.js";
import type { ExitCause, PoolState, SupervisorEvent } from "./events.js";
import type { PreparedImage } from "./image.js";
import { LogSink } from "./log-sink.js";
import { CallMetrics, type PoolMetrics } from "./metrics.js";
import { classifyFailure, shouldRetry, type AttemptEnd } from "./retry.js";
import { WorkerSlot, type SlotState } from "./slot.js";
import { packageKey, type LogLevel, type PackageSpec, type SupervisorConfig } from "./types.js";

/** Knobs that runner_config.json does not carry; defaults suit a station, tests shorten them. */
/**
 * The exits the breaker counts (contract §7: "crashes"): the worker died or broke the protocol on its own. Workers
 * the supervisor ended itself (a call's timeout, lost heartbeats, FatalError's restart) are retried per call, not
 * counted: two slow images must not take a line down.
 */
const CRASHES: ReadonlySet<ExitCause> = new Set(["crash", "protocol"]);

export interface PoolTuning {
  backoff: BackoffPolicy;
  /** How long an open circuit waits before its half-open probe start. */
  breakerCooldownMs: number;
  /** Calls are sent behind a running one only while the worker's recent calls are shorter (ms). */
  pipelineMaxCallMs: number;
  /** Bound of the session → worker affinity map. */
  maxAffinity: number;
}

export function defaultTuning(config: SupervisorConfig): PoolTuning {
  return {
    backoff: DEFAULT_BACKOFF,
    breakerCooldownMs: Math.min(config.breaker_window_ms, 10_000),
    pipelineMaxCallMs: PIPELINE_MAX_CALL_MS,
    maxAffinity: 10_000,
  };
}

/** One call for a pool: a step call with its image (and a G3 guide image), or a session reset, or get_info. */
export type PoolCall = (
  | { method: "pre_execute" | "execute"; step: Omit<StepPayload, "shared_mem_id" | "image_meta" | "guide_image">; image: PreparedImage; guide?: PreparedImage | undefined }
  | { method: "reset"; session: SessionPayload }
  | { method: "get_info" }
) & {
  /** Session id: the session's calls stay on one worker while it lives. */
  affinityKey?: string;
  /** Part of a request already admitted (its second call): not bound by queue_limit, queued first. */
  admitted?: boolean;
};

/** How a call ended after its retries: a worker answer, or the coded failure of the last attempt. */
export interface PoolCallOutcome {
  result?: CallResult;
  error?: ProcVisionError;
  end: AttemptEnd;
  attempts: number;
  worker_pid: number | null;
  /** From submission to answer, queueing and retries included. */
  latency_ms: number;
}

export interface WorkerStatus {
  slot: number;
  pid: number | null;
  state: SlotState;
  uptime_ms: number | null;
  restarts: number;
  calls: number;
  /** Calls sent to it and not answered: the running one and those queued behind it (see pipelineDepth). */
  inflight: number;
  last_heartbeat_age_ms: number | null;
  circuit: CircuitState;
}

export interface PoolStatus {
  key: string;
  name: string;
  version: string;
  state: PoolState;
  circuit: CircuitState;
  /** Calls waiting to start: queued here or held by a worker behind its running call (what queue_limit bounds). */
  queue_depth: number;
  inflight: number;
  workers: WorkerStatus[];
}

export interface VersionPoolOptions {
  config: SupervisorConfig;
  tuning?: Partial<PoolTuning>;
  /** Unique per supervisor: segment names are `procvision-<runnerPid>-<tagPrefix>w<slot>-0`. */
  tagPrefix: string;
  emit: (event: SupervisorEvent) => void;
  log: (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;
  /** Every stderr line of this version's workers, besides the log file (telemetry's log batches). */
  workerLog?: (key: string, slot: number, text: string) => void;
}

interface Job {
  call: PoolCall;
  affinity: number | undefined;
  attempts: number;
  enqueuedAt: number;
  lastOutcome: PoolCallOutcome | undefined;
  resolve: (outcome: PoolCallOutcome) => void;
  reject: (error: ProcVisionError) => void;
}

function asError(err: unknown): ProcVisionError {
  return ProcVisionError.from(err);
}

/**
 * The workers of one running package version (contract §7 "Workers and execution"): `instances` workers, each
 * running one call at a time, a FIFO queue bounded with the calls workers hold (3005), dispatch to the least recently
 * used idle worker (session affinity first) or, for short calls, behind a running one (pipelining), restart with
 * backoff, retries, and the circuit breaker. Processes are at the edge; decisions are the pure functions
 * of backoff.ts, breaker.ts, dispatch.ts and retry.ts.
 */
export class VersionPool {
  readonly key: string;
  readonly #config: SupervisorConfig;
  readonly #tuning: PoolTuning;
  readonly #breakerPolicy: BreakerPolicy;
  readonly #opts: VersionPoolOptions;
  #state: PoolState = "stopped";
  #slots: WorkerSlot[] = [];
  #queue: Job[] = [];
  #inflight = 0;
  #tick = 0;
  #breaker: Breaker = closedBreaker;
  #probeTimer: NodeJS.Timeout | undefined;
  readonly #affinity = new Map<string, number>();
  readonly #metrics = new CallMetrics();
  #restarts = 0;
  #retries = 0;
  #breakerOpens = 0;
  #idleWaiters: (() => void)[] = [];
  #sink: LogSink | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #generation: Generation = "G1";

  constructor(readonly spec: PackageSpec, options: VersionPoolOptions) {
    this.key = packageKey(spec);
    this.#opts = options;
    this.#config = options.config;
    this.#tuning = { ...defaultTuning(options.config), ...options.tuning };
    this.#breakerPolicy = {
      maxCrashes: this.#config.breaker_max_crashes,
      windowMs: this.#config.breaker_window_ms,
      cooldownMs: this.#tuning.breakerCooldownMs,
    };
  }

  get state(): PoolState {
    return this.#state;
  }

  get circuit(): CircuitState {
    return this.#breaker.state;
  }

  /** The algorithm API the version's workers said they implement (contract §5a), known once a worker was ready. */
  get generation(): Generation {
    return this.#generation;
  }

  /** Calls queued or running: a pool with any is in use. */
  get pending(): number {
    return this.#queue.length + this.#inflight;
  }

  /** Spawns and handshakes every instance; all-or-nothing: one failed start stops the others and rejects with its error. */
  start(): Promise<void> {
    if (this.#state === "running" || this.#state === "draining") return Promise.resolve();
    if (this.#starting) return this.#starting;
    const starting = (async () => {
      if (this.#stopping) await this.#stopping;
      this.#stopping = undefined;
      this.#breaker = closedBreaker;
      this.#slots = Array.from({ length: this.#config.instances }, (_, i) => new WorkerSlot(i, `${this.#opts.tagPrefix}w${i}`, MAX_PIPELINE_DEPTH));
      if (this.spec.logsDir) this.#sink = new LogSink(this.spec.logsDir);
      this.#setState("starting");
      const results = await Promise.allSettled(this.#slots.map((slot) => this.#launch(slot, false)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed !== undefined || this.#state !== "starting") {
        await this.stop();
        throw failed !== undefined ? asError(failed.reason) : this.#stoppedError();
      }
      this.#setState("running");
    })();
    this.#starting = starting;
    return starting.finally(() => { this.#starting = undefined; });
  }

  /**
   * Queues a call. Rejects (a request error) with 3006 when the pool does not take calls, 3003 while the circuit is
   * not closed and 3005 when the queue is full; everything that happens during the call resolves as an outcome.
   */
  call(call: PoolCall): Promise<PoolCallOutcome> {
    const admitted = call.admitted === true;
    const accepting = this.#state === "running" || (admitted && this.#state === "draining");
    if (!accepting) return Promise.reject(this.#stoppedError());
    if (!allowsCalls(this.#breaker)) return Promise.reject(this.#openError());
    const waiting = this.#waiting();
    if (!admitted && waiting >= this.#config.queue_limit) {
      return Promise.reject(new ProcVisionError(ErrorCode.busy, `${this.key}: ${waiting} calls already waiting (queue_limit ${this.#config.queue_limit})`, {
        hint: "the station sends images faster than the algorithm answers; slow down, or raise instances/queue_limit",
      }));
    }
    return new Promise<PoolCallOutcome>((resolve, reject) => {
      const affinity = call.affinityKey === undefined ? undefined : this.#affinity.get(call.affinityKey);
      const job: Job = { call, affinity, attempts: 0, enqueuedAt: performance.now(), lastOutcome: undefined, resolve, reject };
      if (admitted) this.#queue.unshift(job);
      else this.#queue.push(job);
      this.#pump();
    });
  }

  /**
   * Calls waiting to start, wherever they wait: in this queue or held by a worker behind the call it runs. queue_limit
   * bounds them all, so pipelining moves where calls wait but not how many are admitted.
   */
  #waiting(): number {
    let held = 0;
    for (const slot of this.#slots) if (slot.inflight > 1) held += slot.inflight - 1;
    return this.#queue.length + held;
  }

  /** Forgets a session's worker affinity (the session ended). */
  forget(affinityKey: string): void {
    this.#affinity.delete(affinityKey);
  }

  /** Stops taking new calls, lets queued and running ones finish, then stops the workers. */
  async drain(inspectionsDone?: Promise<void>): Promise<void> {
    if (this.#state === "stopped") return;
    if (this.#starting) await this.#starting.catch(() => undefined);
    if (this.#state === "running") this.#setState("draining");
    // Requests that began before the drain may still send their second call (admitted while draining).
    await inspectionsDone;
    await new Promise<void>((resolve) => {
      if (this.pending === 0) resolve();
      else this.#idleWaiters.push(resolve);
    });
    await this.stop();
  }

  /**
   * Graceful stop: queued calls fail with 3006, each worker gets a shutdown frame (teardown runs after its running
   * call), then SIGTERM and SIGKILL after kill_grace_ms each; segments are unlinked.
   */
  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    if (this.#state === "stopped") return Promise.resolve();
    this.#stopping = (async () => {
      this.#setState("stopping");
      clearTimeout(this.#probeTimer);
      this.#probeTimer = undefined;
      for (const slot of this.#slots) {
        slot.stopping = true;
        clearTimeout(slot.restartTimer);
        slot.restartTimer = undefined;
      }
      this.#failQueue(this.#stoppedError());
      await Promise.all(this.#slots.map(async (slot) => {
        if (slot.worker) await slot.worker.shutdown();
        slot.state = "stopped";
      }));
      for (const slot of this.#slots) slot.closeSegments();
      this.#sink?.flush();
      this.#setState("stopped");
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    })();
    return this.#stopping;
  }

  status(): PoolStatus {
    const now = Date.now();
    return {
      key: this.key,
      name: this.spec.name,
      version: this.spec.version,
      state: this.#state,
      circuit: this.#breaker.state,
      queue_depth: this.#waiting(),
      inflight: this.#inflight,
      workers: this.#slots.map((slot) => {
        const w = slot.worker;
        const alive = w !== undefined && (slot.state === "idle" || slot.state === "busy");
        return {
          slot: slot.index,
          pid: w?.pid ?? null,
          state: slot.state,
          uptime_ms: alive ? now - slot.readyAt : null,
          restarts: slot.restarts,
          calls: slot.calls,
          inflight: slot.inflight,
          last_heartbeat_age_ms: alive ? now - (w.lastPongAt ?? slot.readyAt) : null,
          circuit: this.#breaker.state,
        };
      }),
    };
  }

  metrics(): PoolMetrics {
    const { calls, latency } = this.#metrics.snapshot();
    return {
      name: this.spec.name,
      version: this.spec.version,
      state: this.#state,
      calls,
      latency,
      queue_depth: this.#waiting(),
      inflight: this.#inflight,
      workers_ready: this.#slots.filter((s) => s.state === "idle" || s.state === "busy").length,
      worker_restarts: this.#restarts,
      retries: this.#retries,
      breaker_state: this.#breaker.state === "closed" ? 0 : this.#breaker.state === "half_open" ? 1 : 2,
      breaker_opens: this.#breakerOpens,
      shm_bytes: this.#slots.reduce((sum, s) => sum + s.shmBytes, 0),
    };
  }

  /** Counts one answered call of a request (status after result checks) into the call metrics. */
  observe(method: string, status: string, errorCode: string | null, latencyMs: number): void {
    this.#metrics.observe(method, status, errorCode, latencyMs);
  }

  // ── processes ────────────────────────────────────────────────────────────────────────────────────────────────

  #workerOptions(slot: WorkerSlot): WorkerOptions {
    return {
      python: this.spec.python,
      entryPoint: this.spec.entryPoint,
      cwd: this.spec.dir,
      ...(this.spec.env ? { env: this.spec.env } : {}),
      startupTimeoutMs: this.#config.startup_timeout_ms,
      heartbeatIntervalMs: this.#config.heartbeat_interval_ms,
      heartbeatGraceMs: this.#config.heartbeat_grace_ms,
      killGraceMs: this.#config.kill_grace_ms,
      label: `${this.key} #${slot.index}`,
    };
  }

  /** Spawn + handshake into `slot`; rejects with the start error (the slot is then down). */
  async #launch(slot: WorkerSlot, restart: boolean): Promise<void> {
    slot.state = "starting";
    slot.lostCause = undefined;
    this.#emit({ type: "worker-starting", key: this.key, slot: slot.index, attempt: slot.failures + 1 });
    const t0 = performance.now();
    const { worker, ready } = Worker.launch(this.#workerOptions(slot));
    slot.worker = worker;
    let wasReady = false;
    worker.on("stderr", (line) => {
      this.#sink?.write(`${new Date(line.at).toISOString()} #${slot.index} [${worker.pid ?? "?"}] ${line.text}`);
      this.#opts.workerLog?.(this.key, slot.index, line.text);
    });
    worker.on("heartbeat-missed", ({ misses }) => {
      if (misses >= 2) slot.heartbeatLost = worker;
      this.#emit({ type: "heartbeat-missed", key: this.key, slot: slot.index, pid: worker.pid ?? null, misses });
    });
    worker.on("stdout-noise", ({ method, bytes }) => {
      this.#opts.log("warn", `${this.key} #${slot.index}: ${method} wrote ${bytes} bytes to stdout; use self.logger (stderr) instead of print()`);
    });
    worker.on("exit", (exit) => {
      if (wasReady) this.#onExit(slot, worker, exit);
    });
    try {
      await ready;
    } catch (err) {
      const error = asError(err);
      if (slot.worker === worker) slot.worker = undefined;
      slot.state = slot.stopping ? "stopped" : "down";
      this.#emit({ type: "worker-start-failed", key: this.key, slot: slot.index, error_code: error.code, message: error.message });
      throw error;
    }
    wasReady = true;
    this.#generation = worker.generation;
    if (slot.stopping) {
      await worker.shutdown();
      throw this.#stoppedError();
    }
    if (restart) {
      slot.restarts++;
      this.#restarts++;
    }
    slot.state = "idle";
    slot.readyAt = Date.now();
    this.#emit({ type: "worker-ready", key: this.key, slot: slot.index, pid: worker.pid ?? null, startup_ms: performance.now() - t0 });
    this.#pump();
  }

  #onExit(slot: WorkerSlot, worker: Worker, exit: WorkerExit): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    const stopping = slot.stopping || this.#state === "stopping" || this.#state === "stopped";
    const cause: ExitCause = stopping ? "stop"
      : slot.lostCause ?? (exit.reason.startsWith("protocol error") ? "protocol" : slot.heartbeatLost === worker ? "heartbeat" : "crash");
    const uptime = Date.now() - slot.readyAt;
    this.#emit({
      type: "worker-exit", key: this.key, slot: slot.index, pid: worker.pid ?? null, cause,
      code: exit.code, signal: exit.signal, reason: exit.reason, uptime_ms: uptime,
    });
    if (stopping) {
      slot.state = "stopped";
      return;
    }
    slot.state = "down";
    this.#onLost(slot, uptime, CRASHES.has(cause));
  }

  /**
   * A worker was lost (crash, kill, failed restart): a crash counts for the breaker, then the worker restarts with
   * backoff or waits for the probe.
   */
  #onLost(slot: WorkerSlot, uptimeMs: number, crashed = true): void {
    slot.failures = nextFailureCount(slot.failures, uptimeMs, this.#tuning.backoff);
    if (crashed) this.#setBreaker(onCrash(this.#breaker, Date.now(), this.#breakerPolicy));
    if (!allowsCalls(this.#breaker)) return; // the probe restarts it
    const delay = backoffDelay(slot.failures, this.#tuning.backoff);
    this.#emit({ type: "worker-restart-scheduled", key: this.key, slot: slot.index, delay_ms: delay, failures: slot.failures });
    clearTimeout(slot.restartTimer);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      void this.#restart(slot);
    }, delay);
  }

  async #restart(slot: WorkerSlot): Promise<void> {
    if (!this.#live() || slot.stopping || slot.state !== "down" || !allowsCalls(this.#breaker)) return;
    try {
      await this.#launch(slot, true);
    } catch {
      if (this.#live() && !slot.stopping) this.#onLost(slot, 0);
    }
  }

  #live(): boolean {
    return this.#state === "running" || this.#state === "draining";
  }

  #setBreaker(next: Breaker): void {
    const from = this.#breaker.state;
    this.#breaker = next;
    if (from === next.state) return;
    this.#emit({ type: "breaker", key: this.key, from, to: next.state });
    if (next.state === "open") {
      if (from === "closed") this.#breakerOpens++;
      // Fail fast: nothing waits behind an open circuit, and no slot restarts until the probe.
      this.#failQueue(this.#openError());
      for (const slot of this.#slots) {
        clearTimeout(slot.restartTimer);
        slot.restartTimer = undefined;
      }
      const delay = probeDelay(next, Date.now(), this.#breakerPolicy) ?? this.#breakerPolicy.cooldownMs;
      clearTimeout(this.#probeTimer);
      this.#probeTimer = setTimeout(() => void this.#probe(), delay);
    }
  }

  /** Half-open: one start; ready closes the circuit (and restarts the other lost slots), a failure reopens it. */
  async #probe(): Promise<void> {
    this.#probeTimer = undefined;
    if (!this.#live() || this.#breaker.state !== "open") return;
    this.#setBreaker(onProbeStart(this.#breaker));
    const down = this.#slots.filter((s) => s.state === "down");
    let ok = true;
    if (down[0] !== undefined) {
      try {
        await this.#launch(down[0], true);
      } catch {
        ok = false;
      }
    }
    if (!this.#live()) return;
    this.#setBreaker(onProbeResult(this.#breaker, ok, Date.now()));
    if (!ok) return;
    for (const slot of down.slice(1)) {
      slot.failures = 0;
      void this.#restart(slot);
    }
  }

  // ── calls ───────────────────────────────────────────────────────────────────────────────────────────────────

  #pump(): void {
    while (this.#queue.length > 0) {
      const views: SlotView[] = this.#slots.map((s) => {
        const w = s.worker;
        const ready = (s.state === "idle" || s.state === "busy") && w?.state === "ready";
        return { index: s.index, ready, inflight: s.inflight, depth: ready ? pipelineDepth(w.recentCallMs, s.frameBytes, this.#tuning.pipelineMaxCallMs) : 0, lastUsedAt: s.lastUsedAt };
      });
      const choice = chooseDispatch(this.#queue, views);
      if (choice === undefined) break;
      const [job] = this.#queue.splice(choice.job, 1);
      const slot = this.#slots[choice.slot];
      if (job === undefined || slot === undefined) break;
      void this.#attempt(job, slot);
    }
    if (this.pending === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  async #attempt(job: Job, slot: WorkerSlot): Promise<void> {
    const worker = slot.worker;
    if (worker === undefined) {
      this.#queue.unshift(job);
      return;
    }
    slot.state = "busy";
    slot.inflight++;
    slot.lastUsedAt = ++this.#tick;
    this.#inflight++;
    job.attempts++;
    const { call } = job;
    let result: CallResult | undefined;
    let error: ProcVisionError | undefined;
    let end: AttemptEnd;
    let segments: Segment[] | undefined;
    try {
      const payload = this.#payload(call, slot);
      segments = payload.segments;
      result = await worker.call(call.method, payload.payload, { timeoutMs: this.#timeoutFor(call.method) });
      end = result.retryable ? "recoverable" : result.fatal ? "fatal" : "done";
    } catch (err) {
      error = asError(err);
      end = classifyFailure(error.code, slot.heartbeatLost === worker);
    }
    if (segments !== undefined) for (const segment of segments) slot.release(segment);
    slot.inflight--;
    this.#inflight--;
    if (slot.worker === worker) {
      if (end === "timeout") {
        // The Worker is already terminating itself (SIGTERM → SIGKILL); its exit triggers the restart.
        slot.lostCause = "timeout";
        slot.state = "down";
      } else if (end === "fatal") {
        slot.lostCause = "fatal";
        slot.state = "down";
        void worker.shutdown();
      } else if (slot.state === "busy" && slot.inflight === 0) {
        slot.state = "idle";
      }
      // A worker that answered a call is healthy: its next loss starts the restart schedule over (a crash now and
      // then must not grow the backoff of a worker that serves in between).
      if (end === "done") slot.failures = 0;
    }
    if (error instanceof CallNotStarted) {
      // Sent behind a call that ended its worker: it never ran, so it is not an attempt. Any worker may take it,
      // ahead of every call that came after it (the calls handed back together keep their order).
      // Refused like a queued call when the pool no longer takes calls (stopping: 3006, circuit open: 3003).
      job.attempts--;
      job.affinity = undefined;
      if (!this.#live()) this.#refuse(job, this.#stoppedError());
      else if (!allowsCalls(this.#breaker)) this.#refuse(job, this.#openError());
      else {
        const later = this.#queue.findIndex((j) => j.enqueuedAt > job.enqueuedAt);
        this.#queue.splice(later < 0 ? this.#queue.length : later, 0, job);
      }
      this.#pump();
      return;
    }
    slot.calls++;
    if (call.affinityKey !== undefined) this.#remember(call.affinityKey, slot.index);
    // Built field by field: `{ ...spread, more }` is V8's slow path (~2 µs here), a real share of a short call. The
    // latency to the µs: what the clock honestly tells, and what a telemetry line prints exactly (record-batches.ts).
    const outcome: PoolCallOutcome = { end, attempts: job.attempts, worker_pid: worker.pid ?? null, latency_ms: Math.round((performance.now() - job.enqueuedAt) * 1000) / 1000 };
    if (result) outcome.result = result;
    if (error) outcome.error = error;
    if (shouldRetry(end, job.attempts, this.#config.max_retries) && this.#live() && allowsCalls(this.#breaker)) {
      this.#retries++;
      this.#emit({ type: "call-retry", key: this.key, method: call.method, attempt: job.attempts + 1, reason: end });
      job.lastOutcome = outcome;
      // A RecoverableError leaves the worker fine: retry there. Otherwise any worker (the old one is gone).
      job.affinity = end === "recoverable" ? slot.index : undefined;
      this.#queue.unshift(job);
    } else {
      job.resolve(outcome);
    }
    this.#pump();
  }

  /**
   * The call's payload; a step call's images are published in segments of the slot (the guide image in a second one,
   * with its own header and sequence), held until the attempt ends.
   */
  #payload(call: PoolCall, slot: WorkerSlot): { payload: CallPayload; segments?: Segment[] } {
    switch (call.method) {
      case "pre_execute":
      case "execute": {
        const { step, guide } = call;
        slot.frameBytes = call.image.payload.byteLength + (guide === undefined ? 0 : guide.payload.byteLength);
        const frame = this.#publish(slot, call.image, "image");
        let guideFrame: ReturnType<WorkerSlot["publish"]> | undefined;
        if (guide !== undefined) {
          try {
            guideFrame = this.#publish(slot, guide, "guide image");
          } catch (err) {
            slot.release(frame.segment);
            throw err;
          }
        }
        const payload: StepPayload = {
          step_index: step.step_index, pid: step.pid, session: step.session, user_params: step.user_params,
          shared_mem_id: frame.name, image_meta: frame.meta,
          step_desc: step.step_desc ?? "", guide_info: step.guide_info ?? [],
          guide_image: guideFrame === undefined ? null : { shared_mem_id: guideFrame.name, image_meta: guideFrame.meta },
        };
        return { payload, segments: guideFrame === undefined ? [frame.segment] : [frame.segment, guideFrame.segment] };
      }
      case "reset":
        return { payload: { session: call.session } };
      case "get_info":
        return { payload: {} };
    }
  }

  #publish(slot: WorkerSlot, image: PreparedImage, what: string): ReturnType<WorkerSlot["publish"]> {
    try {
      return slot.publish(image);
    } catch (err) {
      throw new ProcVisionError(ErrorCode.image_load_failed, `${this.key}: cannot write the ${what} into shared memory: ${asError(err).message}`, {
        hint: "check free space in /dev/shm (or $PROC_SHM_DIR)",
      });
    }
  }

  #timeoutFor(method: PoolCall["method"]): number {
    return method === "execute" ? this.#config.execute_timeout_ms : this.#config.pre_execute_timeout_ms;
  }

  #remember(key: string, slot: number): void {
    this.#affinity.delete(key);
    this.#affinity.set(key, slot);
    if (this.#affinity.size > this.#tuning.maxAffinity) {
      const oldest = this.#affinity.keys().next();
      if (oldest.done !== true) this.#affinity.delete(oldest.value);
    }
  }

  /** Ends every queued job (see #refuse). */
  #failQueue(error: ProcVisionError): void {
    for (const job of this.#queue.splice(0)) this.#refuse(job, error);
    if (this.pending === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /** Ends a job that will not run (again): a retried one with its last attempt's outcome, a fresh one with `error`. */
  #refuse(job: Job, error: ProcVisionError): void {
    if (job.lastOutcome) job.resolve(job.lastOutcome);
    else job.reject(error);
  }

  #stoppedError(): ProcVisionError {
    return new ProcVisionError(ErrorCode.not_found, `${this.key} is not running (${this.#state})`, {
      hint: "start the package version, or use the active version of the PID",
    });
  }

  #openError(): ProcVisionError {
    return new ProcVisionError(ErrorCode.circuit_open, `${this.key}: circuit open after repeated worker crashes; calls fail fast until a probe start succeeds`, {
      hint: "see the worker logs for why it crashes; the runner retries a start after a cool-down",
    });
  }

  #setState(to: PoolState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#emit({ type: "pool-state", key: this.key, from, to });
  }

  #emit(event: SupervisorEvent): void {
    this.#opts.emit(event);
  }
}
