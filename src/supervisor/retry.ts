import { ErrorCode } from "../errors/codes.js";

/**
 * How a call attempt ended, as far as retrying is concerned:
 * - `recoverable`: the algorithm raised RecoverableError (it says a retry may succeed; the worker is fine);
 * - `timeout`: no answer within the limit, the worker was terminated;
 * - `heartbeat`: the worker stopped answering pings and was killed during the call;
 * - `crash`: the process died by itself during the call (exit, signal, broken pipe);
 * - `fatal`: the algorithm raised FatalError (its worker is restarted);
 * - `protocol`: the worker broke the frame stream;
 * - `done`: an answer (OK or an ordinary algorithm error).
 */
export type AttemptEnd = "done" | "recoverable" | "timeout" | "heartbeat" | "crash" | "fatal" | "protocol";

/**
 * Retried (contract §7): RecoverableError, timeout and lost heartbeat — the call is idempotent from the runner's
 * side because the session state is the runner's copy from before the attempt, and the image stays in the segment.
 * Not retried: a crash (the input may be what kills the process; retrying would multiply crashes towards the
 * breaker), FatalError (the algorithm declared its worker broken for this call), protocol errors, and ordinary errors.
 */
export function shouldRetry(end: AttemptEnd, attempt: number, maxRetries: number): boolean {
  return (end === "recoverable" || end === "timeout" || end === "heartbeat") && attempt <= maxRetries;
}

/** Classifies a rejected worker call by its code; `heartbeatLost` says the worker was killed for missed pongs. */
export function classifyFailure(code: string, heartbeatLost: boolean): AttemptEnd {
  if (code === ErrorCode.timeout) return "timeout";
  if (code === ErrorCode.protocol_error) return "protocol";
  if (code === ErrorCode.worker_crashed) return heartbeatLost ? "heartbeat" : "crash";
  // An `error` frame for this call from a live worker: an answer like any other.
  return "done";
}
