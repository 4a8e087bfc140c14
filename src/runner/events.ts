import type { EventEmitter } from "node:events";
import type { SupervisorEvent } from "../supervisor/events.js";

/** Emits one runner event (`{type, time, ...fields}`), built only when someone listens. */
export function emitEvent(events: EventEmitter, type: string, fields: Record<string, unknown>): void {
  if (events.listenerCount("event") > 0) events.emit("event", { type, time: new Date().toISOString(), ...fields });
}

/** A supervisor event as the runner emits it: grouped by what changed, its own type kept as `kind`. */
export function fromSupervisor(e: SupervisorEvent): { type: string; fields: Record<string, unknown> } {
  const { type: kind, ...rest } = e;
  return { type: categoryOf(e), fields: { kind, ...rest } };
}

/** The console groups events by what changed. */
function categoryOf(e: SupervisorEvent): string {
  if (e.type === "pool-state") return "package";
  if (e.type === "session") return "session";
  return "worker";
}
