import { randomUUID } from "node:crypto";
import { ProcVisionError } from "../errors/procvision-error.js";
import type { RawImage } from "../image/decode.js";
import type { CallMethod, ImageMeta, StepPayload } from "../protocol/messages.js";
import { writeFrame } from "../shm/frame.js";
import { SegmentPool } from "../shm/pool.js";
import type { Segment } from "../shm/segment.js";
import { Worker, type CallResult } from "../worker/worker.js";

export interface HarnessOptions {
  projectDir: string;
  entryPoint: string;
  /** Absolute interpreter path. */
  python: string;
  pythonPath?: readonly string[];
  /** Set on top of the allow-listed environment. */
  env?: Readonly<Record<string, string>>;
  startupTimeoutMs?: number;
}

/** What one call gave: the worker's result, or the coded failure of the call itself (timeout, crash). */
export type CallOutcome = Omit<CallResult, "retryable" | "fatal" | "session_state">;

export interface StepOutcome {
  step_index: number;
  pre_execute: CallOutcome;
  execute: CallOutcome;
}

function failedCall(err: unknown, startedAt: number): CallOutcome {
  const error = err instanceof ProcVisionError ? err : new ProcVisionError("9999", String(err));
  return {
    status: "ERROR", message: error.message, error_code: error.code, data: {}, debug: {}, stdout_bytes: 0,
    latency_ms: performance.now() - startedAt,
  };
}

/**
 * One algorithm driven exactly as the runner drives it: the image goes through a shared-memory segment, the
 * algorithm runs in the adapter subprocess, and session state is carried from call to call by this side.
 * Used by `validate` and `run`.
 */
export class LocalHarness {
  private image: { segment: Segment; meta: ImageMeta } | undefined;

  private constructor(readonly worker: Worker, private readonly pool: SegmentPool, readonly startupMs: number) {}

  static async start(options: HarnessOptions): Promise<LocalHarness> {
    const started = performance.now();
    const worker = await Worker.start({
      python: options.python,
      entryPoint: options.entryPoint,
      cwd: options.projectDir,
      heartbeatIntervalMs: 0,
      killGraceMs: 1000,
      ...(options.pythonPath ? { pythonPath: options.pythonPath } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.startupTimeoutMs ? { startupTimeoutMs: options.startupTimeoutMs } : {}),
    });
    const pool = new SegmentPool(`local${randomUUID().slice(0, 8)}`, { maxSlots: 1 });
    return new LocalHarness(worker, pool, performance.now() - started);
  }

  setImage(image: RawImage): ImageMeta {
    if (this.image) this.pool.release(this.image.segment);
    const segment = this.pool.acquire(image.data.length);
    this.image = { segment, meta: writeFrame(segment, image, "local") };
    return this.image.meta;
  }

  /** pre_execute then execute for each step, in one session; stops calling once the worker is gone. */
  async runSteps(pid: string, steps: readonly number[], paramsFor: (step: number) => Record<string, unknown>, timeoutMs?: number): Promise<StepOutcome[]> {
    const image = this.image;
    if (!image) throw new Error("LocalHarness.runSteps before setImage");
    const session = { id: `local-${randomUUID()}`, context: {}, state: {} as Record<string, unknown> };
    const call = async (method: CallMethod, stepIndex: number): Promise<CallOutcome> => {
      const t0 = performance.now();
      if (this.worker.state !== "ready") {
        return failedCall(new ProcVisionError("3001", "the worker is gone after an earlier failure"), t0);
      }
      const payload: StepPayload = {
        step_index: stepIndex, pid, session, user_params: paramsFor(stepIndex),
        shared_mem_id: image.segment.name, image_meta: image.meta,
      };
      try {
        const { session_state, retryable: _r, fatal: _f, ...result } = await this.worker.call(method, payload,
          timeoutMs ? { timeoutMs } : {});
        session.state = session_state;
        return result;
      } catch (err) {
        return failedCall(err, t0);
      }
    };
    const outcomes: StepOutcome[] = [];
    for (const stepIndex of steps) {
      const pre = await call("pre_execute", stepIndex);
      outcomes.push({ step_index: stepIndex, pre_execute: pre, execute: await call("execute", stepIndex) });
    }
    return outcomes;
  }

  async close(): Promise<void> {
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
    harness.setImage(options.image);
    const steps = await harness.runSteps(options.pid, options.steps, () => options.userParams ?? {}, options.timeoutMs);
    return { info: harness.worker.info, steps, startup_ms: harness.startupMs };
  } finally {
    await harness.close();
  }
}
