import { randomUUID } from "node:crypto";
import { ProcVisionError } from "../errors/procvision-error.js";
import type { RawImage } from "../image/decode.js";
import { enforceResult, type ResultLimits, type ResultMethod } from "../inspection/index.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../protocol/frame-codec.js";
import type { Generation, GuideImageRef, ImageMeta, StepPayload } from "../protocol/messages.js";
import { writeFrame } from "../shm/frame.js";
import { SegmentPool } from "../shm/pool.js";
import type { Segment } from "../shm/segment.js";
import type { StderrLine } from "../worker/stderr-tail.js";
import { Worker, type CallResult } from "../worker/worker.js";
import { adoptHeadStart } from "./head-start.js";

export interface HarnessOptions {
  projectDir: string;
  entryPoint: string;
  /** Absolute interpreter path. */
  python: string;
  /** What the interpreter was found as (ProjectPython.command): a head-started adapter spawned as that is taken over. */
  command?: string;
  pythonPath?: readonly string[];
  /** Set on top of the allow-listed environment. */
  env?: Readonly<Record<string, string>>;
  startupTimeoutMs?: number;
  /** Every stderr line of the worker as it comes, from the first one on (`--tail-logs`). */
  onStderr?: (line: StderrLine) => void;
}

/** What one call gave: the worker's result, or the coded failure of the call itself (timeout, crash). */
export type CallOutcome = Omit<CallResult, "retryable" | "fatal" | "session_state">;

export interface StepOutcome {
  step_index: number;
  /** Absent for execute-only algorithms (G2/G3): they have no pre_execute. */
  pre_execute?: CallOutcome;
  execute: CallOutcome;
}

/** The inputs of an inspection besides the current image; G1 and G2 algorithms ignore the G3 ones. */
export interface StepInputs {
  pid: string;
  paramsFor: (step: number) => Record<string, unknown>;
  /** G3 `step_desc` of a step (default ""). */
  stepDescFor?: (step: number) => string;
  /** G3 `guide_info` (default []). */
  guideInfo?: unknown;
  /**
   * Hold the answers to the station's result rules with these limits: a rejected answer comes back as the runner
   * gives it (ERROR 1007). Without them the answers are the algorithm's own, for validate to report every rule on.
   */
  limits?: ResultLimits;
}

function failedCall(err: unknown, startedAt: number): CallOutcome {
  const error = ProcVisionError.from(err);
  return {
    status: "ERROR", message: error.message, error_code: error.code, data: {}, debug: {}, stdout_bytes: 0,
    latency_ms: performance.now() - startedAt,
  };
}

interface Published {
  segment: Segment;
  meta: ImageMeta;
}

/**
 * One algorithm driven exactly as the runner drives it: the images go through shared-memory segments (the current
 * one and, for G3, the guide image in a second one), the algorithm runs in the adapter subprocess, and session state
 * is carried from call to call by this side. Used by `validate` and `run`.
 */
export class LocalHarness {
  private current: Published | undefined;
  private guide: Published | undefined;

  private constructor(readonly worker: Worker, private readonly pool: SegmentPool, readonly startupMs: number) {
    process.once("SIGINT", this.onSignal);
    process.once("SIGTERM", this.onSignal);
  }

  /**
   * Ctrl-C or a SIGTERM of the CLI: the worker (perhaps hung in a call) and the segments go with it, as they go with
   * a runner (contract §4: no segment outlives its writer). Exit 130 / 143, as the shell expects of a signal.
   */
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    void this.worker.kill(`procvision-cli got ${signal}`);
    this.pool.close();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };

  static async start(options: HarnessOptions): Promise<LocalHarness> {
    const started = performance.now();
    const adopted = adoptHeadStart({
      python: options.command ?? options.python, entryPoint: options.entryPoint, cwd: options.projectDir,
      maxFrameBytes: DEFAULT_MAX_FRAME_BYTES, ...(options.pythonPath ? { pythonPath: options.pythonPath } : {}), ...(options.env ? { env: options.env } : {}),
    });
    const { worker, ready } = Worker.launch({
      python: options.python,
      entryPoint: options.entryPoint,
      cwd: options.projectDir,
      heartbeatIntervalMs: 0,
      killGraceMs: 1000,
      ...(options.pythonPath ? { pythonPath: options.pythonPath } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.startupTimeoutMs ? { startupTimeoutMs: options.startupTimeoutMs } : {}),
      ...(adopted ? { adopt: adopted.child } : {}),
    });
    if (options.onStderr) worker.on("stderr", options.onStderr);
    try {
      await ready;
    } catch (err) {
      // Gone before the error is reported: no stray process, and every log line it wrote has been passed on.
      await worker.kill("start-up failed");
      throw err;
    }
    const pool = new SegmentPool(`local${randomUUID().slice(0, 8)}`, { maxSlots: 2 });
    return new LocalHarness(worker, pool, performance.now() - (adopted?.spawnedAt ?? started));
  }

  /** The API the entry class implements: G1 gets pre_execute then execute, G2/G3 execute alone. */
  get generation(): Generation {
    return this.worker.generation;
  }

  /** Publishes the current image and the guide image (none: `guide_image: null`) for the calls that follow. */
  setImages(current: RawImage, guide?: RawImage): void {
    this.current = this.publish(this.current, current, "local");
    if (this.guide) this.pool.release(this.guide.segment);
    this.guide = guide ? this.publish(undefined, guide, "local-guide") : undefined;
  }

  private publish(previous: Published | undefined, image: RawImage, cameraId: string): Published {
    if (previous) this.pool.release(previous.segment);
    const segment = this.pool.acquire(image.data.length);
    return { segment, meta: writeFrame(segment, image, cameraId) };
  }

  /** Each step in one session (G1: pre_execute then execute); stops calling once the worker is gone. */
  async runSteps(steps: readonly number[], inputs: StepInputs, timeoutMs?: number): Promise<StepOutcome[]> {
    const current = this.current;
    if (!current) throw new Error("LocalHarness.runSteps before setImages");
    const guideImage: GuideImageRef | null = this.guide ? { shared_mem_id: this.guide.segment.name, image_meta: this.guide.meta } : null;
    // The context the original CLI gave its runs: algorithms written for it read these keys.
    const context = { product_code: inputs.pid, operator: "dev", trace_id: `trace-${Date.now()}` };
    const session = { id: `local-${randomUUID()}`, context, state: {} as Record<string, unknown> };
    const call = async (method: ResultMethod, stepIndex: number): Promise<CallOutcome> => {
      const t0 = performance.now();
      if (this.worker.state !== "ready") {
        return failedCall(new ProcVisionError("3001", "the worker is gone after an earlier failure"), t0);
      }
      const payload: StepPayload = {
        step_index: stepIndex, pid: inputs.pid, session, user_params: inputs.paramsFor(stepIndex),
        shared_mem_id: current.segment.name, image_meta: current.meta,
        step_desc: inputs.stepDescFor?.(stepIndex) ?? "", guide_info: inputs.guideInfo ?? [], guide_image: guideImage,
      };
      try {
        const { session_state, retryable: _r, fatal: _f, ...result } = await this.worker.call(method, payload,
          timeoutMs ? { timeoutMs } : {});
        session.state = session_state;
        return inputs.limits ? enforceResult(method, result, current.meta, inputs.limits) : result;
      } catch (err) {
        return failedCall(err, t0);
      }
    };
    const outcomes: StepOutcome[] = [];
    for (const stepIndex of steps) {
      const pre = this.generation === "G1" ? await call("pre_execute", stepIndex) : undefined;
      outcomes.push({ step_index: stepIndex, ...(pre ? { pre_execute: pre } : {}), execute: await call("execute", stepIndex) });
    }
    return outcomes;
  }

  async close(): Promise<void> {
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
    await this.worker.shutdown();
    this.pool.close();
  }
}

export interface LocalRunOptions extends HarnessOptions {
  pid: string;
  steps: readonly number[];
  image: RawImage;
  userParams?: Record<string, unknown>;
  timeoutMs?: number;
}

export interface LocalRunResult {
  info: Record<string, unknown>;
  steps: StepOutcome[];
  startup_ms: number;
}

export async function runLocal(options: LocalRunOptions): Promise<LocalRunResult> {
  const harness = await LocalHarness.start(options);
  try {
    harness.setImages(options.image);
    const steps = await harness.runSteps(options.steps, { pid: options.pid, paramsFor: () => options.userParams ?? {} }, options.timeoutMs);
    return { info: harness.worker.info, steps, startup_ms: harness.startupMs };
  } finally {
    await harness.close();
  }
}
