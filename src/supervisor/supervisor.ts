import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { checkParams, enforceResult, rectCounts, userParamsError } from "../inspection/index.js";
import type { Manifest } from "../manifest/schema.js";
import { sweepStaleSegments } from "../shm/sweep.js";
import { describeEvent, type SupervisorEvent, type SupervisorEventMap } from "./events.js";
import type { Generation } from "../protocol/messages.js";
import { prepareImage, type PreparedImage } from "./image.js";
import { LATENCY_BUCKETS_MS, type MetricsSnapshot } from "./metrics.js";
import { VersionPool, type PoolCallOutcome, type PoolStatus, type PoolTuning } from "./pool.js";
import { SessionManager, type SessionRecord, type SessionStore } from "./sessions.js";
import {
  jsonLineLogger, packageKey,
  type CallResponse, type InspectionRecord, type InspectMethod, type InspectRequest, type InspectResponse, type Logger,
  type PackageRef, type PackageSpec, type StepMethod, type SupervisorConfig,
} from "./types.js";

export type RunState = "running" | "executing" | "stopped";

export interface SupervisorOptions {
  config: SupervisorConfig;
  /** The package version bound to a PID (the store's activations); undefined → 3004. */
  resolveActive: (pid: string) => PackageSpec | undefined;
  /** Session persistence (SQLite in the store); in memory by default. */
  sessionStore?: SessionStore;
  /**
   * Called once per answered call of an inspection; a returned promise is awaited before the call is answered (the
   * record is durable first). Errors thrown or rejected here are logged, never fail the inspection.
   */
  onRecord?: (record: InspectionRecord) => void | Promise<void>;
  /** Default: JSON lines on stderr from config.log_level up. */
  logger?: Logger;
  /** Every worker stderr line (`name@version`, slot, text), besides the rotated log file. */
  workerLog?: (key: string, slot: number, text: string) => void;
  tuning?: Partial<PoolTuning>;
  maxSessionStateBytes?: number;
  /** Unlink segments of dead runners at construction (default true). */
  sweepStaleSegments?: boolean;
}

export interface SupervisorPoolStatus extends PoolStatus {
  /** Live sessions pinned to this version. */
  sessions: number;
}

const METHODS = new Set(["pre_execute", "execute", "both"]);

function paramsError(message: string): ProcVisionError {
  return new ProcVisionError(ErrorCode.invalid_params, message, { hint: "send user_params that match the step's params in manifest.json" });
}

/** What every call of one inspection sends besides the session: checked and prepared once per request. */
interface StepInputs {
  stepIndex: number;
  userParams: Record<string, unknown>;
  image: PreparedImage;
  guide: PreparedImage | undefined;
  stepDesc: string;
  guideInfo: unknown;
}

/**
 * The calls a method runs on a version of `generation` (contract §5a): G1 has pre_execute and execute (`both` runs
 * the two); execute-only algorithms (G2, G3) run execute once for `both` and `execute`, and have no pre_execute (1006).
 */
function stepMethods(method: InspectMethod, generation: Generation, key: string): StepMethod[] {
  if (generation === "G1") return method === "both" ? ["pre_execute", "execute"] : [method];
  if (method === "pre_execute") {
    throw new ProcVisionError(ErrorCode.invalid_params, `${key} is a ${generation} algorithm: it has no pre_execute`, {
      hint: `${generation} algorithms have only execute: use method execute or both`,
    });
  }
  return ["execute"];
}

/** Plain JSON data all the way down (what a frame can carry unchanged). */
function isJson(value: unknown, depth = 0): boolean {
  if (depth > 100) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isJson(v, depth + 1));
  const proto: unknown = typeof value === "object" ? Object.getPrototypeOf(value) : undefined;
  if (proto === Object.prototype || proto === null) {
    return Object.values(value as Record<string, unknown>).every((v) => isJson(v, depth + 1));
  }
  return false;
}

/**
 * Runs package versions for the runner (contract §7): one VersionPool per running `name@version`, the sessions, and
 * checked inspections. No HTTP and no store: the Runner facade resolves PIDs (`resolveActive`), persists sessions
 * (`sessionStore`) and records (`onRecord`), and drives switches with ensureRunning → rebind → stopWhenUnused.
 */
export class Supervisor extends EventEmitter<SupervisorEventMap> {
  readonly sessions: SessionManager;
  readonly #config: SupervisorConfig;
  readonly #opts: SupervisorOptions;
  readonly #logger: Logger;
  readonly #pools = new Map<string, VersionPool>();
  readonly #draining = new Map<string, Promise<void>>();
  /** Versions started at least once: a version not running is `stopped` once it ran, still `installed` before. */
  readonly #started = new Set<string>();
  readonly #retiring = new Map<string, { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void }>();
  /** Inspections in progress per version (between their calls the pool may be momentarily idle). */
  readonly #active = new Map<string, number>();
  /** Who waits for a version's inspections in progress to end (a drain: `both` is two calls, the second still to come). */
  readonly #inspectionsDone = new Map<string, (() => void)[]>();
  readonly #tag = randomBytes(3).toString("hex");
  #poolSeq = 0;
  #closed = false;

  constructor(options: SupervisorOptions) {
    super();
    this.#opts = options;
    this.#config = options.config;
    this.#logger = options.logger ?? jsonLineLogger(options.config.log_level);
    if (options.sweepStaleSegments !== false) {
      const removed = sweepStaleSegments();
      if (removed.length > 0) this.#logger.log("info", `swept ${removed.length} shared-memory segment(s) of dead runners`, { segments: removed });
    }
    this.sessions = new SessionManager({
      ttlMs: this.#config.session_ttl_ms,
      ...(options.maxSessionStateBytes !== undefined ? { maxStateBytes: options.maxSessionStateBytes } : {}),
      ...(options.sessionStore ? { store: options.sessionStore } : {}),
      onEvent: ({ action, session }) => {
        const key = packageKey(session);
        this.#emit({ type: "session", key, action, session_id: session.id, pid: session.pid });
        if (action === "ended" || action === "expired") {
          this.#pools.get(key)?.forget(session.id);
          this.#checkRetire(key);
        }
      },
      onStoreError: (err, action) => this.#logger.log("error", `session store ${action} failed: ${(err as Error).message}`),
    });
  }

  // ── package versions ────────────────────────────────────────────────────────────────────────────────────────

  /** Starts the version's workers (all ready, or the start error is thrown); no-op when running. Cancels a pending stopWhenUnused. */
  async ensureRunning(pkg: PackageSpec): Promise<void> {
    if (this.#closed) throw new ProcVisionError(ErrorCode.not_found, "the supervisor is stopped");
    const key = packageKey(pkg);
    const retiring = this.#retiring.get(key);
    if (retiring) {
      this.#retiring.delete(key);
      retiring.resolve();
    }
    const draining = this.#draining.get(key);
    if (draining) await draining;
    let pool = this.#pools.get(key);
    if (pool === undefined || pool.state === "stopped") {
      pool = new VersionPool(pkg, {
        config: this.#config,
        ...(this.#opts.tuning ? { tuning: this.#opts.tuning } : {}),
        tagPrefix: `${this.#tag}p${++this.#poolSeq}`,
        emit: (e) => this.#emit(e),
        log: (level, message, fields) => this.#logger.log(level, message, fields),
        ...(this.#opts.workerLog ? { workerLog: this.#opts.workerLog } : {}),
      });
      this.#pools.set(key, pool);
    }
    try {
      await pool.start();
    } catch (err) {
      if (this.#pools.get(key) === pool) this.#pools.delete(key);
      throw err;
    }
    this.#started.add(key);
  }

  /**
   * The version's run state (contract §7: `installed → running ⇄ stopped`, `running ⇄ executing`): `executing` while
   * a call is queued or running, `running` while its workers serve, `stopped` once they stopped; undefined: never started.
   */
  runState(ref: PackageRef): RunState | undefined {
    const key = packageKey(ref);
    const pool = this.#pools.get(key);
    if (pool?.state === "running" || pool?.state === "draining") return pool.pending > 0 ? "executing" : "running";
    return this.#started.has(key) ? "stopped" : undefined;
  }

  isRunning(ref: PackageRef): boolean {
    const state = this.#pools.get(packageKey(ref))?.state;
    return state === "running";
  }

  /** Calls queued or running, inspections in progress, or live sessions pinned to the version. */
  inUse(ref: PackageRef): boolean {
    const key = packageKey(ref);
    return (this.#pools.get(key)?.pending ?? 0) > 0 || (this.#active.get(key) ?? 0) > 0 || this.sessions.countPinned(ref) > 0;
  }

  /** The version is going away: its workers stop, and its sessions end (they could never run again). */
  async retire(ref: PackageRef): Promise<void> {
    await this.drainAndStop(ref);
    this.#started.delete(packageKey(ref));
    this.sessions.endPinned(ref);
  }

  /**
   * New calls are refused (3006); queued and running calls finish, and so do the inspections in progress (the execute
   * of a `both` whose pre_execute ran is still to come); then the workers shut down.
   */
  async drainAndStop(ref: PackageRef): Promise<void> {
    const key = packageKey(ref);
    const existing = this.#draining.get(key);
    if (existing) return existing;
    const pool = this.#pools.get(key);
    if (pool === undefined) return;
    const inspections = (this.#active.get(key) ?? 0) === 0 ? undefined : new Promise<void>((resolve) => {
      const waiting = this.#inspectionsDone.get(key) ?? [];
      waiting.push(resolve);
      this.#inspectionsDone.set(key, waiting);
    });
    const draining = pool.drain(inspections).finally(() => {
      this.#draining.delete(key);
      if (this.#pools.get(key) === pool) this.#pools.delete(key);
    });
    this.#draining.set(key, draining);
    return draining;
  }

  /**
   * The old side of a switch: the version keeps serving its sessions and stops (drainAndStop) once nothing uses it.
   * Resolves when stopped, or when ensureRunning takes the version back (a rollback) before that.
   */
  stopWhenUnused(ref: PackageRef): Promise<void> {
    const key = packageKey(ref);
    if (!this.#pools.has(key)) return Promise.resolve();
    let entry = this.#retiring.get(key);
    if (entry === undefined) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
      entry = { promise, resolve, reject };
      this.#retiring.set(key, entry);
    }
    this.#checkRetire(key);
    return entry.promise;
  }

  /** Graceful stop of every pool (shutdown frames, then SIGTERM/SIGKILL); no processes or segments are left. */
  async stopAll(): Promise<void> {
    this.#closed = true;
    this.sessions.close();
    await Promise.all([...this.#pools.values()].map((pool) => pool.stop()));
    for (const [, entry] of this.#retiring) entry.resolve();
    this.#retiring.clear();
    this.#pools.clear();
  }

  status(): SupervisorPoolStatus[] {
    return [...this.#pools.values()].map((pool) => ({ ...pool.status(), sessions: this.sessions.countPinned(pool.spec) }));
  }

  metrics(): MetricsSnapshot {
    const pools = [...this.#pools.values()].map((pool) => pool.metrics());
    return {
      pools,
      sessions: this.sessions.size,
      shm_bytes: pools.reduce((sum, p) => sum + p.shm_bytes, 0),
      latency_buckets_ms: LATENCY_BUCKETS_MS,
    };
  }

  // ── sessions ─────────────────────────────────────────────────────────────────────────────────────────────────

  /** A session on the PID's active version (3004 when none); it stays on that version through switches. */
  createSession(pid: string, context: Record<string, unknown> = {}): SessionRecord {
    const pkg = this.#opts.resolveActive(pid);
    if (pkg === undefined) throw this.#noActive(pid);
    return this.sessions.create(pid, pkg, context);
  }

  /**
   * Restarts the session's inspection flow: the algorithm's `reset(session)` hook runs (seeing the old state) when the
   * version is running, then the state is emptied. A hook failure is logged; the reset happens anyway.
   */
  async resetSession(id: string): Promise<SessionRecord> {
    return this.sessions.withSession(id, async (session) => {
      const pool = this.#pools.get(packageKey(session));
      if (pool !== undefined && pool.state === "running") {
        try {
          const outcome = await pool.call({ method: "reset", session: this.sessions.payload(session), affinityKey: session.id });
          const failure = outcome.error?.message ?? (outcome.result?.status === "OK" ? undefined : outcome.result?.message);
          if (failure !== undefined) this.#logger.log("warn", `reset hook of session ${id} failed: ${failure}`);
        } catch (err) {
          this.#logger.log("warn", `reset hook of session ${id} not run: ${(err as Error).message}`);
        }
      }
      this.sessions.setState(session, {});
      this.sessions.markReset(session);
      return session;
    });
  }

  endSession(id: string): SessionRecord {
    return this.sessions.end(id);
  }

  // ── inspections ─────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * A checked inspection (contract §7). Request errors throw ProcVisionError: 3004 (no active package), 3006 (unknown
   * session or version not running), 1001 (session of another PID), 1006 (params, step_desc, guide_info, pre_execute of
   * an execute-only algorithm), 1002 (either image), 3003, 3005. What happens during a call comes back in that call's
   * response with status ERROR. With `both`, execute runs only when pre_execute answered OK (G1), or alone (G2/G3).
   * The guide image travels in a second segment; results are checked against the current image.
   */
  async inspect(req: InspectRequest): Promise<InspectResponse> {
    const method = req.method ?? "both";
    if (!METHODS.has(method)) throw paramsError(`method must be pre_execute, execute or both, got ${JSON.stringify(method)}`);
    if (req.step_index !== undefined && (!Number.isInteger(req.step_index) || req.step_index < 0)) {
      throw paramsError(`step_index must be an integer ≥ 0, got ${JSON.stringify(req.step_index)}`);
    }
    if (req.step_desc !== undefined && typeof req.step_desc !== "string") {
      throw new ProcVisionError(ErrorCode.invalid_params, `step_desc must be a string, got ${typeof req.step_desc}`, { hint: "send the step's description text, e.g. \"check screw 3\"" });
    }
    if (req.guide_info !== undefined && !isJson(req.guide_info)) {
      throw new ProcVisionError(ErrorCode.invalid_params, "guide_info must be JSON (objects, arrays, strings, numbers, booleans, null)", {
        hint: "e.g. [{\"label\": \"1\", \"posList\": [{\"x\": 10, \"y\": 20, \"width\": 30, \"height\": 40}]}]",
      });
    }
    const userParams: unknown = req.user_params ?? {};
    let session: SessionRecord;
    let oneShot = false;
    if (req.session_id !== undefined && req.session_id !== null && req.session_id !== "") {
      session = this.sessions.get(req.session_id);
      if (session.pid !== req.pid) {
        throw new ProcVisionError(ErrorCode.invalid_pid, `session ${session.id} belongs to PID ${session.pid}, not ${req.pid}`, {
          hint: "use the session's PID, or create a session for this PID",
        });
      }
    } else {
      const pkg = this.#opts.resolveActive(req.pid);
      if (pkg === undefined) throw this.#noActive(req.pid);
      session = this.sessions.create(req.pid, pkg, {}, { ephemeral: true });
      oneShot = true;
    }
    const key = packageKey(session);
    this.#active.set(key, (this.#active.get(key) ?? 0) + 1);
    try {
      const pool = this.#pools.get(key);
      if (pool === undefined || pool.state !== "running" && pool.state !== "draining") {
        // A PID bound to a stopped version has no package that runs for it (3004); a session's version is gone (3006).
        throw new ProcVisionError(oneShot ? ErrorCode.no_active_package : ErrorCode.not_found,
          `${key} (the version of ${oneShot ? `PID ${req.pid}` : `session ${session.id}`}) is not running`, {
            hint: `start it (procvision-runner start ${session.name} ${session.version}, or POST /algorithms/${session.name}/${session.version}/start)`,
          });
      }
      const methods = stepMethods(method as InspectMethod, pool.generation, key);
      // Without a step, the manifest's first: a project of the original init counts from 0, new ones from 1.
      const stepIndex = req.step_index ?? pool.spec.manifest.steps?.[0]?.index ?? 1;
      const params = this.#checkParams(pool.spec.manifest, key, stepIndex, userParams);
      const image = await prepareImage(req.image, this.#config.image_encoding, req.camera_id);
      const guide = req.guide_image === undefined ? undefined : await prepareImage(req.guide_image, this.#config.image_encoding, req.camera_id);
      const inputs: StepInputs = { stepIndex, userParams: params, image, guide, stepDesc: req.step_desc ?? "", guideInfo: req.guide_info ?? [] };
      const run = async (s: SessionRecord): Promise<InspectResponse> => {
        const response: InspectResponse = { session_id: s.id, name: s.name, version: s.version };
        for (const [i, m] of methods.entries()) {
          if (i > 0 && response.pre_execute?.status !== "OK") break;
          response[m] = await this.#call(pool, s, m, inputs, i > 0);
        }
        return response;
      };
      // A one-shot session's id is known to this call only: nothing can race it, so it needs no lock.
      return await (oneShot ? run(session) : this.sessions.withSession(session.id, run));
    } finally {
      const left = (this.#active.get(key) ?? 1) - 1;
      if (left === 0) {
        this.#active.delete(key);
        for (const resolve of this.#inspectionsDone.get(key)?.splice(0) ?? []) resolve();
      } else this.#active.set(key, left);
      if (oneShot) {
        // Ephemeral sessions end without a session event: drop the worker affinity here, or the map fills up.
        this.#pools.get(key)?.forget(session.id);
        try {
          this.sessions.end(session.id);
        } catch {
          // already gone
        }
      }
      this.#checkRetire(key);
    }
  }

  #checkParams(manifest: Manifest, key: string, stepIndex: number, values: unknown): Record<string, unknown> {
    const checked = checkParams(manifest, stepIndex, values);
    if (!checked.ok) throw userParamsError(checked.problems, stepIndex, key);
    return checked.values;
  }

  async #call(pool: VersionPool, session: SessionRecord, method: StepMethod, inputs: StepInputs, admitted: boolean): Promise<CallResponse> {
    const { image, guide } = inputs;
    let outcome: PoolCallOutcome;
    try {
      outcome = await pool.call({
        method,
        step: {
          step_index: inputs.stepIndex, pid: session.pid, session: this.sessions.payload(session), user_params: inputs.userParams,
          step_desc: inputs.stepDesc, guide_info: inputs.guideInfo,
        },
        image,
        guide,
        affinityKey: session.id,
        admitted,
      });
    } catch (err) {
      // The first call's refusal is the request's; a later call's refusal is that call's result.
      if (!admitted || !(err instanceof ProcVisionError)) throw err;
      outcome = { error: err, end: "done", attempts: 0, worker_pid: null, latency_ms: 0 };
    }
    let response = this.#response(method, outcome, image);
    const result = outcome.result;
    if (result !== undefined && outcome.end === "done" && !this.sessions.setState(session, result.session_state)) {
      response = {
        ...response, status: "ERROR", error_code: ErrorCode.unknown_error,
        message: `${method} left a session state larger than ${this.sessions.maxStateBytes} bytes; the state was not kept`,
      };
    }
    pool.observe(method, response.status, response.error_code, response.latency_ms);
    await this.#record(session, inputs.stepIndex, method, response, outcome, guide !== undefined, image);
    return response;
  }

  #response(method: StepMethod, outcome: PoolCallOutcome, image: PreparedImage): CallResponse {
    const latency_ms = outcome.latency_ms;
    const result = outcome.result;
    if (result === undefined) {
      const error = outcome.error ?? new ProcVisionError(ErrorCode.unknown_error, "no answer");
      const debug: Record<string, unknown> = {};
      if (error.hint !== undefined) debug.hint = error.hint;
      const tail = error.details?.stderr_tail;
      if (typeof tail === "string" && tail !== "") debug.stderr_tail = tail;
      return { status: "ERROR", message: error.message, error_code: error.code, data: {}, debug, latency_ms };
    }
    const answer = enforceResult(method, result, image, { maxDefects: this.#config.max_defects });
    return { status: answer.status, message: answer.message, error_code: answer.error_code, data: answer.data, debug: answer.debug, latency_ms };
  }

  async #record(session: SessionRecord, stepIndex: number, method: StepMethod, r: CallResponse, outcome: PoolCallOutcome, guideImage: boolean, image: PreparedImage): Promise<void> {
    const onRecord = this.#opts.onRecord;
    if (onRecord === undefined) return;
    const verdict = method === "execute" && r.status === "OK" ? r.data.result_status : undefined;
    const reason = r.data.ng_reason;
    try {
      await onRecord({
        timestamp_ms: Date.now(),
        pid: session.pid,
        session_id: session.id,
        step_index: stepIndex,
        method,
        name: session.name,
        version: session.version,
        status: r.status,
        error_code: r.error_code,
        message: r.message,
        result_status: typeof verdict === "string" ? verdict : null,
        ng_reason: typeof reason === "string" && reason !== "" ? reason : null,
        ...rectCounts(r.data),
        latency_ms: r.latency_ms,
        attempts: outcome.attempts,
        worker_pid: outcome.worker_pid,
        guide_image: guideImage,
        trace_id: traceId(session.context),
        data: r.data,
        image,
      });
    } catch (err) {
      this.#logger.log("error", `recording an inspection failed: ${(err as Error).message}`);
    }
  }

  #checkRetire(key: string): void {
    const entry = this.#retiring.get(key);
    if (entry === undefined) return;
    const pool = this.#pools.get(key);
    if (pool !== undefined && this.inUse(pool.spec)) return;
    this.#retiring.delete(key);
    if (pool === undefined) {
      entry.resolve();
      return;
    }
    this.drainAndStop(pool.spec).then(entry.resolve, entry.reject);
  }

  #noActive(pid: string): ProcVisionError {
    return new ProcVisionError(ErrorCode.no_active_package, `no package is active for PID ${pid}`, {
      hint: "activate a package version that supports this PID",
    });
  }

  #emit(event: SupervisorEvent): void {
    const { level, message } = describeEvent(event);
    this.#logger.log(level, message, { event: event.type, ...event });
    // One event under two names; the map's per-name typing cannot follow a union value, hence the cast.
    const emit = this.emit.bind(this) as (name: string, event: SupervisorEvent) => boolean;
    emit(event.type, event);
    emit("event", event);
  }
}

/** The trace id a session's context carries (the one on_step_start gets), as a record keeps it. */
function traceId(context: Readonly<Record<string, unknown>>): string | null {
  const value = context.trace_id;
  if (typeof value === "string") return value === "" ? null : value;
  return typeof value === "number" && Number.isFinite(value) ? String(value) : null;
}
