import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FrameDecoder } from "../protocol/frame-codec.js";
import {
  parseWorkerMessage,
  PROTOCOL_VERSION,
  runnerFrames,
  type CallMethod,
  type CallPayload,
  type Generation,
  type ResultMessage,
  type WorkerHello,
  type WorkerMessage,
} from "../protocol/messages.js";
import { killProcessGroup, spawnAdapter, type AdapterChild } from "./adapter-process.js";
import { StderrTail, type StderrLine } from "./stderr-tail.js";

/** How long a start-up failure waits for the rest of the worker's stderr (normally: until it exits, a few ms). */
const STDERR_DRAIN_MS = 2000;
/** After the worker exited, how long its pipes may stay open (held by a process it started) before they are dropped. */
const PIPE_DRAIN_MS = 500;
export const RUNNER_VERSION = "0.1.0";

export interface WorkerOptions {
  /** Absolute path of the interpreter (see resolveInterpreter). */
  python: string;
  /** `module.path:ClassName`. */
  entryPoint: string;
  /** Package root: the worker's cwd, first on its sys.path. */
  cwd: string;
  pythonPath?: readonly string[];
  env?: Readonly<Record<string, string>>;
  /** hello → ready, including import and setup(). */
  startupTimeoutMs?: number;
  /** 0 disables heartbeats (one-shot tools). */
  heartbeatIntervalMs?: number;
  heartbeatGraceMs?: number;
  killGraceMs?: number;
  maxFrameBytes?: number;
  stderrTailLines?: number;
  /** Shown in messages, e.g. `algorithm-example 1.0 #1`. */
  label?: string;
  /** An adapter process already spawned for this very launch (src/local/head-start.ts), taken over instead of spawning. */
  adopt?: AdapterChild;
}

export interface CallResult {
  status: string;
  message: string;
  error_code: string | null;
  data: Record<string, unknown>;
  debug: Record<string, unknown>;
  session_state: Record<string, unknown>;
  stdout_bytes: number;
  retryable: boolean;
  fatal: boolean;
  /** The Python type the algorithm returned instead of a dict, if it did. */
  invalid_return?: string;
  /** Top-level keys of the returned dict that the result shape has no place for. */
  stray_keys?: string[];
  latency_ms: number;
}

export type WorkerState = "starting" | "ready" | "stopping" | "exited";

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the exit was asked for (shutdown/kill by us), false for a crash. */
  expected: boolean;
  reason: string;
}

interface WorkerEvents {
  exit: [WorkerExit];
  stderr: [StderrLine];
  "heartbeat-missed": [{ misses: number }];
  "protocol-error": [ProcVisionError];
  "stdout-noise": [{ method: CallMethod; bytes: number }];
}

interface Pending {
  method: CallMethod;
  resolve: (result: CallResult) => void;
  reject: (error: ProcVisionError) => void;
  /** 0 = none. The clock runs from when the worker starts the call: when it heads the line, not when it was sent. */
  timeoutMs: number;
  timer: NodeJS.Timeout | undefined;
  started: number;
}

/**
 * A call sent behind another one whose end also ended the worker (crash, timeout, protocol error, FatalError): it never
 * ran there, or (after a FatalError) its answer is dropped. Whoever sent it may run it elsewhere.
 */
export class CallNotStarted extends ProcVisionError {
  constructor(label: string, reason: string) {
    super(ErrorCode.worker_crashed, `${label}: call not started (${reason})`);
  }
}


/**
 * One algorithm process speaking the wire protocol. This is the only way the CLI and the runner talk to an
 * algorithm: spawn, handshake, calls multiplexed by request_id, heartbeats, escalating shutdown.
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly options: Required<Omit<WorkerOptions, "pythonPath" | "env" | "adopt">> & Pick<WorkerOptions, "pythonPath" | "env" | "adopt">;
  readonly stderrTail: StderrTail;
  state: WorkerState = "starting";
  hello: WorkerHello | undefined;
  info: Record<string, unknown> = {};
  /** Whether the entry point subclasses BaseAlgorithm (undefined for adapters that do not say). */
  baseAlgorithm: boolean | undefined;
  /** What the algorithm's setup() raised, if it did: the worker is ready all the same (a hook, contract §3). */
  setupError: string | undefined;
  /** Which algorithm API the entry class implements, as the adapter reported it in `ready`. */
  generation: Generation = "G1";
  readonly startedAt = Date.now();
  lastPongAt: number | undefined;

  private readonly child: AdapterChild;
  private readonly decoder: FrameDecoder;
  /** In send order, which is the order the worker runs them in: the first one is running. */
  private readonly pending = new Map<string, Pending>();
  /** When the first pending call started running at the worker. */
  private headSince = 0;
  private callMsAverage = Number.POSITIVE_INFINITY;
  private nextId = 1;
  private heartbeat: NodeJS.Timeout | undefined;
  private outstandingPing: { id: string; sentAt: number } | undefined;
  private misses = 0;
  private stopRequested = false;
  private exitReason = "";
  private readonly exited: Promise<WorkerExit>;
  private startup: { resolve: () => void; reject: (err: ProcVisionError) => void; stopClock: () => void } | undefined;

  private constructor(options: WorkerOptions) {
    super();
    this.options = {
      startupTimeoutMs: 30_000,
      heartbeatIntervalMs: 5_000,
      heartbeatGraceMs: 2_000,
      killGraceMs: 3_000,
      maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
      stderrTailLines: 200,
      label: options.entryPoint,
      ...options,
    };
    this.stderrTail = new StderrTail(this.options.stderrTailLines);
    this.decoder = new FrameDecoder(this.options.maxFrameBytes);
    this.child = this.options.adopt ?? spawnAdapter({
      python: this.options.python, entryPoint: this.options.entryPoint, cwd: this.options.cwd,
      maxFrameBytes: this.options.maxFrameBytes,
      ...(this.options.pythonPath ? { pythonPath: this.options.pythonPath } : {}),
      ...(this.options.env ? { env: this.options.env } : {}),
    });
    this.exited = new Promise((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (done) return;
        done = true;
        killProcessGroup(this.child.pid);
        this.child.stdout.destroy();
        this.child.stderr.destroy();
        resolve(this.onExit(code, signal));
      };
      // 'close' comes once the pipes are drained: the last frames and the traceback are read before the exit is
      // handled. A process the algorithm started holds the pipes open, so after 'exit' it gets PIPE_DRAIN_MS at most.
      this.child.once("close", finish);
      this.child.once("exit", (code, signal) => setTimeout(() => finish(code, signal), PIPE_DRAIN_MS).unref());
    });
    // A spawn failure (ENOENT) arrives as 'error' followed by 'close'.
    this.child.on("error", (err) => {
      this.exitReason ||= `cannot start ${this.options.python}: ${err.message}`;
    });
    this.child.stdin.on("error", () => {
      // EPIPE when the worker died; the exit handler reports it.
    });
    this.child.stdout.on("data", (chunk: Buffer) => this.onStdout(chunk));
    this.stderrTail.attach(this.child.stderr, (line) => this.emit("stderr", line));
  }

  /** Spawns the adapter and resolves once it is ready; rejects with the worker's error code and stderr tail. */
  static async start(options: WorkerOptions): Promise<Worker> {
    const worker = new Worker(options);
    await worker.handshake();
    return worker;
  }

  /**
   * Like `start`, but hands the Worker out at once, so a supervisor can stop (shutdown/kill) a worker that is still
   * importing or in setup() instead of waiting for the startup timeout.
   */
  static launch(options: WorkerOptions): { worker: Worker; ready: Promise<Worker> } {
    const worker = new Worker(options);
    return { worker, ready: worker.handshake().then(() => worker) };
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  /** Calls sent and not answered yet: the one running and any queued behind it in the worker's stdin. */
  get inflight(): number {
    return this.pending.size;
  }

  /** Recent time from a call's start at the worker to its answer (ms, moving average; Infinity before any call). */
  get recentCallMs(): number {
    return this.callMsAverage;
  }

  get uptimeMs(): number {
    return Date.now() - this.startedAt;
  }

  /** Resolves when the process is gone, whatever the reason. */
  waitForExit(): Promise<WorkerExit> {
    return this.exited;
  }

  private handshake(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.startup = undefined;
        const err = this.failure(ErrorCode.timeout, `worker did not become ready within ${this.options.startupTimeoutMs} ms (import and setup() still running)`, {
          hint: "a model that loads longer needs a longer start-up limit: startup_timeout_ms in runner_config.json",
        });
        this.kill("startup timeout");
        reject(err);
      }, this.options.startupTimeoutMs);
      this.startup = {
        resolve: () => { clearTimeout(timer); resolve(); },
        reject: (err) => { clearTimeout(timer); reject(err); },
        stopClock: () => clearTimeout(timer),
      };
    });
  }

  call(method: CallMethod, payload: CallPayload, options: { timeoutMs?: number } = {}): Promise<CallResult> {
    if (this.state !== "ready") {
      return Promise.reject(this.failure(ErrorCode.worker_crashed, `worker is ${this.state}, cannot call ${method}`));
    }
    const requestId = `r${this.nextId++}`;
    return new Promise<CallResult>((resolve, reject) => {
      const started = performance.now();
      const timeoutMs = options.timeoutMs !== undefined && options.timeoutMs > 0 ? options.timeoutMs : 0;
      const pending: Pending = { method, resolve, reject, timeoutMs, timer: undefined, started };
      this.pending.set(requestId, pending);
      if (this.pending.size === 1) this.startHead(requestId, pending, started);
      this.send(runnerFrames.call(requestId, method, payload));
    });
  }

  /** shutdown frame (teardown runs) → SIGTERM → SIGKILL, each step after killGraceMs. */
  async shutdown(): Promise<WorkerExit> {
    if (this.state === "exited") return this.exited;
    this.stopping();
    this.exitReason ||= "shutdown requested";
    this.stopHeartbeat();
    this.send(runnerFrames.shutdown());
    this.child.stdin.end();
    const grace = this.options.killGraceMs;
    if (await this.exitsWithin(grace)) return this.exited;
    this.signal("SIGTERM");
    if (await this.exitsWithin(grace)) return this.exited;
    this.signal("SIGKILL");
    return this.exited;
  }

  /** Immediate SIGKILL: for a worker that is hung, unhealthy or no longer trusted. */
  kill(reason: string): Promise<WorkerExit> {
    this.stopping();
    this.exitReason ||= reason;
    this.stopHeartbeat();
    this.signal("SIGKILL");
    return this.exited;
  }

  /** SIGTERM then SIGKILL after killGraceMs: how a timed-out call ends its worker. */
  async terminate(reason: string): Promise<WorkerExit> {
    this.stopping();
    this.exitReason ||= reason;
    this.stopHeartbeat();
    this.signal("SIGTERM");
    if (!(await this.exitsWithin(this.options.killGraceMs))) this.signal("SIGKILL");
    return this.exited;
  }

  /** No new calls from now on (a call handed back must not come straight back to a worker on its way out). */
  private stopping(): void {
    this.stopRequested = true;
    if (this.state !== "exited") this.state = "stopping";
  }

  private exitsWithin(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void this.exited.then(() => { clearTimeout(timer); resolve(true); });
    });
  }

  private signal(sig: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
  }

  private send(message: object): void {
    if (!this.child.stdin.writable) return;
    this.child.stdin.write(encodeFrame(message));
  }

  private onStdout(chunk: Buffer): void {
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.onProtocolError(err as ProcVisionError);
      return;
    }
    for (const frame of frames) {
      let message: WorkerMessage;
      try {
        message = parseWorkerMessage(frame);
      } catch (err) {
        this.onProtocolError(err as ProcVisionError);
        return;
      }
      this.onMessage(message);
    }
  }

  private onProtocolError(err: ProcVisionError): void {
    // A corrupt stream cannot be trusted for any further call: fail everything and replace the process.
    this.emit("protocol-error", err);
    this.exitReason ||= `protocol error: ${err.message}`;
    this.failAll(new ProcVisionError(ErrorCode.protocol_error, `${this.options.label}: ${err.message}`, { hint: err.hint }), "protocol error");
    this.startup?.reject(this.failure(ErrorCode.protocol_error, err.message, err.hint === undefined ? {} : { hint: err.hint }));
    this.startup = undefined;
    void this.kill(this.exitReason);
  }

  private onMessage(message: WorkerMessage): void {
    switch (message.type) {
      case "hello":
        this.hello = message;
        if (message.protocol_version !== PROTOCOL_VERSION) {
          // Frames of another version would be misread: refuse before any call, naming both sides.
          this.onProtocolError(new ProcVisionError(ErrorCode.protocol_error,
            `the worker speaks protocol version ${message.protocol_version} (SDK ${message.sdk_version}), this runner speaks version ${PROTOCOL_VERSION}`, {
              hint: "install the package again so it runs with the SDK this runner ships, or use a runner of the worker's protocol version",
            }));
          return;
        }
        this.send(runnerFrames.hello(RUNNER_VERSION, this.options.heartbeatIntervalMs));
        return;
      case "ready":
        this.info = message.info;
        this.baseAlgorithm = message.base_algorithm;
        this.setupError = message.setup_error;
        this.generation = message.generation;
        if (this.state === "starting") {
          this.state = "ready";
          this.startHeartbeat();
          this.startup?.resolve();
          this.startup = undefined;
        }
        return;
      case "pong":
        if (this.outstandingPing && message.request_id === this.outstandingPing.id) {
          this.outstandingPing = undefined;
          this.misses = 0;
        }
        this.lastPongAt = Date.now();
        return;
      case "result":
        this.onResult(message);
        return;
      case "error":
        this.onErrorFrame(message.request_id, message.error_code ?? ErrorCode.unknown_error, message.message, message.phase);
        return;
      case "shutdown":
        return; // the ack; the exit that follows is what counts
    }
  }

  private onErrorFrame(requestId: string | null, code: string, message: string, phase?: string): void {
    const startup = this.startup;
    if (startup) {
      this.startup = undefined;
      startup.stopClock();
      this.exitReason ||= `worker reported error ${code} before ready: ${message}`;
      // The adapter exits right after this frame, and what it logged (the traceback) travels on another pipe: the
      // failure is built once that pipe is drained (the process gone), or after a short wait, so it carries them.
      const drained = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, STDERR_DRAIN_MS);
        void this.exited.then(() => { clearTimeout(timer); resolve(); });
      });
      void drained.then(() => startup.reject(this.failure(code, `worker failed to start: ${message}`, phase ? { phase } : {})));
      return;
    }
    const pending = requestId === null ? undefined : this.take(requestId);
    const error = this.failure(code, message);
    if (pending) pending.reject(error);
    else this.emit("protocol-error", error);
  }

  private onResult(message: ResultMessage): void {
    const pending = this.take(message.request_id);
    if (!pending) return; // a late answer to a call that already timed out
    if (message.stdout_bytes > 0) this.emit("stdout-noise", { method: pending.method, bytes: message.stdout_bytes });
    pending.resolve({
      status: message.status,
      message: message.message,
      error_code: message.error_code,
      data: message.data,
      debug: message.debug,
      session_state: message.session_state,
      stdout_bytes: message.stdout_bytes,
      retryable: message.retryable === true,
      fatal: message.fatal === true,
      ...(message.invalid_return !== undefined ? { invalid_return: message.invalid_return } : {}),
      ...(message.stray_keys !== undefined ? { stray_keys: message.stray_keys } : {}),
      latency_ms: performance.now() - pending.started,
    });
    // A worker that raised FatalError is replaced: what it answers next cannot be trusted, even answers already read
    // in the same chunk, so the calls held behind it go back to be run elsewhere.
    if (message.fatal === true) this.handBack("the call ahead of it raised FatalError; the worker is being replaced");
  }

  private startHead(requestId: string, pending: Pending, now: number): void {
    this.headSince = now;
    if (pending.timeoutMs > 0) pending.timer = setTimeout(() => this.onCallTimeout(requestId), pending.timeoutMs);
  }

  private take(requestId: string): Pending | undefined {
    const pending = this.pending.get(requestId);
    if (!pending) return undefined;
    const wasHead = this.pending.keys().next().value === requestId;
    this.pending.delete(requestId);
    clearTimeout(pending.timer);
    if (wasHead) {
      const now = performance.now();
      const ran = now - this.headSince;
      this.callMsAverage = Number.isFinite(this.callMsAverage) ? this.callMsAverage * 0.8 + ran * 0.2 : ran;
      const next = this.pending.entries().next();
      if (next.done !== true) this.startHead(next.value[0], next.value[1], now);
    }
    return pending;
  }

  private onCallTimeout(requestId: string): void {
    const pending = this.pending.get(requestId);
    if (!pending) return;
    // Calls queued behind it will not run on this worker: hand them back before it is terminated.
    this.failAll(this.failure(ErrorCode.timeout, `${pending.method} did not answer within ${pending.timeoutMs} ms`, {
      hint: "the worker was stopped and will be replaced; raise the timeout if the algorithm is legitimately slow",
    }), "the call ahead of it timed out");
    void this.terminate(`${pending.method} timed out after ${pending.timeoutMs} ms`);
  }

  private startHeartbeat(): void {
    const interval = this.options.heartbeatIntervalMs;
    if (interval <= 0) return;
    this.heartbeat = setInterval(() => this.beat(), interval);
    this.heartbeat.unref();
  }

  private beat(): void {
    if (this.outstandingPing) return; // the grace timer judges it
    const id = `hb${this.nextId++}`;
    this.outstandingPing = { id, sentAt: Date.now() };
    this.send(runnerFrames.ping(id));
    const timer = setTimeout(() => {
      if (this.outstandingPing?.id !== id) return;
      this.outstandingPing = undefined;
      this.misses += 1;
      this.emit("heartbeat-missed", { misses: this.misses });
      if (this.misses >= 2) void this.kill(`no pong within ${this.options.heartbeatGraceMs} ms twice running`);
      // Probe again at once instead of at the next tick: a hung worker is then gone within interval + 2 × grace.
      else if (this.state === "ready") this.beat();
    }, this.options.heartbeatGraceMs);
    timer.unref();
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): WorkerExit {
    this.state = "exited";
    this.stopHeartbeat();
    const reason = this.exitReason || (signal ? `killed by ${signal}` : `exited with code ${code}`);
    const exit: WorkerExit = { code, signal, expected: this.stopRequested, reason };
    if (this.decoder.pendingBytes > 0 && !this.stopRequested) {
      this.emit("protocol-error", this.failure(ErrorCode.protocol_error, "worker exited in the middle of a frame"));
    }
    this.failAll(this.failure(ErrorCode.worker_crashed, `worker ${reason} during the call`, {
      hint: "see the worker's stderr tail in the details; the runner restarts crashed workers",
    }), `worker ${reason}`);
    if (this.startup) {
      const fail = this.failure(ErrorCode.worker_crashed, `worker ${reason} before it was ready`);
      this.startup.reject(fail);
      this.startup = undefined;
    }
    this.emit("exit", exit);
    return exit;
  }

  /** Gives every unanswered call back as CallNotStarted, to be run elsewhere; answers that still come are dropped. */
  private handBack(reason: string): void {
    const calls = [...this.pending.values()];
    for (const p of calls) clearTimeout(p.timer);
    this.pending.clear();
    for (const p of calls) p.reject(new CallNotStarted(this.options.label, reason));
  }

  /** The running call gets `error`; the calls queued behind it never ran and get CallNotStarted. */
  private failAll(error: ProcVisionError, reason: string): void {
    const head = this.pending.entries().next();
    if (head.done === true) return;
    const [id, running] = head.value;
    clearTimeout(running.timer);
    this.pending.delete(id);
    running.reject(error);
    this.handBack(reason);
  }

  private failure(code: string, message: string, extra: { hint?: string; phase?: string } = {}): ProcVisionError {
    const { phase, ...rest } = extra;
    return new ProcVisionError(code, `${this.options.label}: ${message}`, {
      ...rest,
      details: { stderr_tail: this.stderrTail.text(20), pid: this.child.pid ?? null, ...(phase ? { phase } : {}) },
    });
  }
}
