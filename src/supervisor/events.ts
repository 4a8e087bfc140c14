import type { CircuitState } from "./breaker.js";
import type { SessionEndReason } from "./sessions.js";

export type PoolState = "starting" | "running" | "draining" | "stopping" | "stopped";

/** Why a worker process went away. */
export type ExitCause = "stop" | "crash" | "timeout" | "heartbeat" | "fatal" | "protocol";

/** Every state transition of the supervisor; `key` is `name@version`. */
export type SupervisorEvent =
  | { type: "pool-state"; key: string; from: PoolState; to: PoolState }
  | { type: "worker-starting"; key: string; slot: number; attempt: number }
  | { type: "worker-ready"; key: string; slot: number; pid: number | null; startup_ms: number }
  | { type: "worker-start-failed"; key: string; slot: number; error_code: string; message: string }
  | { type: "worker-exit"; key: string; slot: number; pid: number | null; cause: ExitCause; code: number | null; signal: string | null; reason: string; uptime_ms: number }
  | { type: "worker-restart-scheduled"; key: string; slot: number; delay_ms: number; failures: number }
  | { type: "heartbeat-missed"; key: string; slot: number; pid: number | null; misses: number }
  | { type: "breaker"; key: string; from: CircuitState; to: CircuitState }
  | { type: "call-retry"; key: string; method: string; attempt: number; reason: string }
  | { type: "session"; key: string; action: "created" | "reset" | SessionEndReason; session_id: string; pid: string };

export type SupervisorEventType = SupervisorEvent["type"];

/** Typed EventEmitter map: every event under its own name, and all of them under `event` (for SSE and logs). */
export type SupervisorEventMap = { [K in SupervisorEventType]: [Extract<SupervisorEvent, { type: K }>] } & { event: [SupervisorEvent] };

/** The log level and message of an event: one log line per transition. */
export function describeEvent(e: SupervisorEvent): { level: "debug" | "info" | "warn" | "error"; message: string } {
  switch (e.type) {
    case "pool-state":
      return { level: "info", message: `${e.key}: ${e.from} → ${e.to}` };
    case "worker-starting":
      return { level: "debug", message: `${e.key} #${e.slot}: starting worker (attempt ${e.attempt})` };
    case "worker-ready":
      return { level: "info", message: `${e.key} #${e.slot}: worker ${e.pid} ready in ${Math.round(e.startup_ms)} ms` };
    case "worker-start-failed":
      return { level: "error", message: `${e.key} #${e.slot}: worker failed to start (${e.error_code}): ${e.message}` };
    case "worker-exit":
      return { level: e.cause === "stop" ? "info" : "warn", message: `${e.key} #${e.slot}: worker ${e.pid} gone (${e.cause}): ${e.reason}` };
    case "worker-restart-scheduled":
      return { level: "info", message: `${e.key} #${e.slot}: restart in ${e.delay_ms} ms (${e.failures} failure(s) in a row)` };
    case "heartbeat-missed":
      return { level: "warn", message: `${e.key} #${e.slot}: worker ${e.pid} missed heartbeat ${e.misses}` };
    case "breaker":
      return { level: e.to === "open" ? "error" : "warn", message: `${e.key}: circuit ${e.from} → ${e.to}` };
    case "call-retry":
      return { level: "warn", message: `${e.key}: retrying ${e.method} (attempt ${e.attempt}) after ${e.reason}` };
    case "session":
      return { level: "debug", message: `${e.key}: session ${e.session_id} ${e.action}` };
  }
}
