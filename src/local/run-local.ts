import { randomUUID } from "node:crypto";
import { ProcVisionError } from "../errors/procvision-error.js";
import type { RawImage } from "../image/decode.js";
import type { CallMethod, StepPayload } from "../protocol/messages.js";
import { writeFrame } from "../shm/frame.js";
import { SegmentPool } from "../shm/pool.js";
import { Worker, type CallResult } from "../worker/worker.js";

export interface LocalRunOptions {
  projectDir: string;
  entryPoint: string;
  /** Absolute interpreter path. */
  python: string;
  pythonPath?: readonly string[];
  pid: string;
  /** Steps run one after the other in one session, each pre_execute then execute. */
  steps: readonly number[];
  image: RawImage;
  userParams?: Record<string, unknown>;
  timeoutMs?: number;
  startupTimeoutMs?: number;
}

/** What one call gave: the worker's result, or the coded failure of the call itself (timeout, crash). */
export type CallOutcome = Omit<CallResult, "retryable" | "fatal" | "session_state">;

export interface StepOutcome {
  step_index: number;
  pre_execute: CallOutcome;
  execute: CallOutcome;
}

export interface LocalRunResult {
  info: Record<string, unknown>;
  steps: StepOutcome[];
  startup_ms: number;
}

function failedCall(err: unknown, startedAt: number): CallOutcome {
  const error = err instanceof ProcVisionError ? err : new ProcVisionError("9999", String(err));
  return {
    status: "ERROR", message: error.message, error_code: error.code, data: {}, debug: {}, stdout_bytes: 0,
    latency_ms: performance.now() - startedAt,
  };
}

/**
 * Runs an algorithm on one image exactly as the runner will: the image goes through a shared-memory segment, the
 * algorithm runs in the adapter subprocess, session state is carried from call to call by this side.
 */
export async function runLocal(options: LocalRunOptions): Promise<LocalRunResult> {
  const pool = new SegmentPool(`local${randomUUID().slice(0, 8)}`, { maxSlots: 1 });
  const started = performance.now();
  const worker = await Worker.start({
    python: options.python,
    entryPoint: options.entryPoint,
    cwd: options.projectDir,
    heartbeatIntervalMs: 0,
    killGraceMs: 1000,
    ...(options.pythonPath ? { pythonPath: options.pythonPath } : {}),
    ...(options.startupTimeoutMs ? { startupTimeoutMs: options.startupTimeoutMs } : {}),
  });
  const startupMs = performance.now() - started;
  try {
    const segment = pool.acquire(options.image.data.length);
    const imageMeta = writeFrame(segment, options.image, "local");
    const session = { id: `local-${randomUUID()}`, context: {}, state: {} as Record<string, unknown> };
    const steps: StepOutcome[] = [];
    let alive = true;
    const call = async (method: CallMethod, stepIndex: number): Promise<CallOutcome> => {
      const t0 = performance.now();
      if (!alive) return failedCall(new ProcVisionError("3001", "worker is gone after an earlier failure"), t0);
      const payload: StepPayload = {
        step_index: stepIndex, pid: options.pid, session, user_params: options.userParams ?? {},
        shared_mem_id: segment.name, image_meta: imageMeta,
      };
      try {
        const { session_state, retryable: _r, fatal: _f, ...result } = await worker.call(method, payload, {
          ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
        });
        session.state = session_state;
        return result;
      } catch (err) {
        alive = worker.state === "ready";
        return failedCall(err, t0);
      }
    };
    for (const stepIndex of options.steps) {
      const pre = await call("pre_execute", stepIndex);
      const exec = await call("execute", stepIndex);
      steps.push({ step_index: stepIndex, pre_execute: pre, execute: exec });
    }
    return { info: worker.info, steps, startup_ms: startupMs };
  } finally {
    await worker.shutdown();
    pool.close();
  }
}
