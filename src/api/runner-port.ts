import type { EventEmitter } from "node:events";
import type { RunnerInspectRequest } from "../runner/runner.js";
import type { Artifact } from "../telemetry/store.js";

/** Who did it: recorded in the audit log with every mutation. */
export interface Actor {
  operator?: string;
}

/** A runner event as the console and `GET /events` see it. */
export interface RunnerEvent {
  type: string;
  time: string;
  [key: string]: unknown;
}

/**
 * What the HTTP API needs from the runner: the library API of contract §7, with an optional actor on mutations.
 * The API layer only moves data in and out; every decision stays in the runner.
 */
export interface RunnerPort {
  readonly root: string;
  readonly events: EventEmitter;
  install(source: string | { ref: string }, options?: { force?: boolean; origin?: string } & Actor): Promise<unknown>;
  list(filter?: { state?: string; name?: string }): Promise<unknown>;
  active(): Promise<unknown>;
  validate(name: string, version: string, actor?: Actor): Promise<unknown>;
  activate(name: string, version: string, pids: string[], actor?: Actor): Promise<unknown>;
  switch(name: string, version: string, pids: string[], actor?: Actor): Promise<unknown>;
  rollback(pids: string[], actor?: Actor): Promise<unknown>;
  deactivate(pids: string[], actor?: Actor): Promise<unknown>;
  uninstall(name: string, version: string, options?: { force?: boolean } & Actor): Promise<unknown>;
  start(name: string, version: string, actor?: Actor): Promise<unknown>;
  stop(name: string, version: string, actor?: Actor): Promise<unknown>;
  createSession(pid: string, context?: Record<string, unknown>): Promise<unknown>;
  resetSession(id: string): Promise<unknown>;
  endSession(id: string): Promise<unknown>;
  inspect(request: RunnerInspectRequest): Promise<unknown>;
  records(filter?: Record<string, string | number | undefined>): Promise<unknown>;
  audit(filter?: Record<string, string | number | undefined>): Promise<unknown>;
  logs(name: string, version: string, options?: { lines?: number }): Promise<string[]>;
  status(): Promise<unknown>;
  metrics(): Promise<{ contentType: string; body: string }>;
  telemetry(): Promise<unknown>;
  setTelemetryPaused(paused: boolean, actor?: Actor): Promise<unknown>;
  recordImages(id: number): Promise<Artifact[]>;
  fleet(): Promise<unknown>;
  fleetPoll(): Promise<unknown>;
}
