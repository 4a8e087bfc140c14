import { randomUUID } from "node:crypto";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import type { SessionPayload } from "../protocol/messages.js";
import { packageKey, type PackageRef } from "./types.js";

/** A session as the runner keeps (and the store persists) it. */
export interface SessionRecord {
  id: string;
  pid: string;
  /** The package version the session started on; it stays there through switches. */
  name: string;
  version: string;
  context: Record<string, unknown>;
  state: Record<string, unknown>;
  created_at: number;
  last_used_at: number;
}

export type SessionEndReason = "ended" | "expired";

/**
 * Persistence seam for the store (SQLite). Synchronous on purpose (better-sqlite3 is), so state changes are on disk
 * before the call that made them returns. The default keeps nothing beyond the manager's own map.
 */
export interface SessionStore {
  /** Sessions that survive a runner restart; read once at construction. */
  load(): Iterable<SessionRecord>;
  /** After create and after every state change. */
  save(session: SessionRecord): void;
  remove(id: string, reason: SessionEndReason): void;
}

export const memorySessionStore = (): SessionStore => ({ load: () => [], save() {}, remove() {} });

export interface SessionManagerOptions {
  ttlMs: number;
  /** Bound of a session's state as JSON (UTF-8 bytes). */
  maxStateBytes?: number;
  /** Bound of live sessions; creating one more evicts nothing and fails with 3005. */
  maxSessions?: number;
  store?: SessionStore;
  now?: () => number;
  onEvent?: (event: { action: "created" | "ended" | "expired" | "reset"; session: SessionRecord }) => void;
  /** Persistence failures are reported here and otherwise ignored: a station keeps inspecting. */
  onStoreError?: (err: unknown, action: string) => void;
}

export const DEFAULT_MAX_STATE_BYTES = 1024 * 1024;

function isEmpty(value: Record<string, unknown>): boolean {
  for (const _ in value) return false;
  return true;
}

/**
 * Session state owned by the runner (contract §3, §7): it outlives worker restarts because workers only ever see a
 * copy per call. Idle sessions expire after `ttlMs`; calls on one session run one at a time (`withSession`), so the
 * state a call returns is never overwritten by a concurrent call's older copy.
 */
export class SessionManager {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #busy = new Map<string, number>();
  /** One-call sessions of session-less inspections: never persisted, no events (one per inspection would flood both). */
  readonly #ephemeral = new Set<string>();
  readonly #opts: Required<Omit<SessionManagerOptions, "onEvent" | "onStoreError">> & Pick<SessionManagerOptions, "onEvent" | "onStoreError">;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: SessionManagerOptions) {
    this.#opts = {
      maxStateBytes: DEFAULT_MAX_STATE_BYTES,
      maxSessions: 100_000,
      store: memorySessionStore(),
      now: Date.now,
      ...options,
    };
    for (const s of this.#guard("load", () => [...this.#opts.store.load()]) ?? []) this.#sessions.set(s.id, s);
    this.#sweeper = setInterval(() => this.expireIdle(), Math.max(10, Math.min(this.#opts.ttlMs, 60_000)));
    this.#sweeper.unref();
  }

  get size(): number {
    return this.#sessions.size;
  }

  create(pid: string, pkg: PackageRef, context: Record<string, unknown> = {}, options: { ephemeral?: boolean } = {}): SessionRecord {
    if (this.#sessions.size >= this.#opts.maxSessions) {
      this.expireIdle();
      if (this.#sessions.size >= this.#opts.maxSessions) {
        throw new ProcVisionError(ErrorCode.busy, `too many open sessions (${this.#opts.maxSessions})`, {
          hint: "end sessions when an inspection flow is done; idle ones expire after session_ttl_ms",
        });
      }
    }
    // The context travels in every call frame: one too big for a frame would end the worker at each call.
    if (!isEmpty(context) && Buffer.byteLength(JSON.stringify(context)) > this.#opts.maxStateBytes) {
      throw new ProcVisionError(ErrorCode.invalid_params, `the session context is larger than ${this.#opts.maxStateBytes} bytes as JSON`, {
        hint: "keep the context to identifiers (serial number, trace_id, station data); large data belongs in the session state or elsewhere",
      });
    }
    const now = this.#opts.now();
    const session: SessionRecord = {
      id: randomUUID(), pid, name: pkg.name, version: pkg.version,
      // Session-less inspections create one per call with no context: skip the clone then.
      context: isEmpty(context) ? {} : structuredClone(context), state: {}, created_at: now, last_used_at: now,
    };
    this.#sessions.set(session.id, session);
    if (options.ephemeral === true) {
      this.#ephemeral.add(session.id);
      return session;
    }
    this.#guard("save", () => this.#opts.store.save(session));
    this.#opts.onEvent?.({ action: "created", session });
    return session;
  }

  /** The live session, or 3006 (unknown, ended or expired). */
  get(id: string): SessionRecord {
    const session = this.#sessions.get(id);
    if (session === undefined || this.#expired(session)) {
      if (session !== undefined) this.#drop(session, "expired");
      throw new ProcVisionError(ErrorCode.not_found, `session ${id} does not exist (ended, expired or never created)`, {
        hint: "create a new session for the inspection flow",
      });
    }
    return session;
  }

  list(): SessionRecord[] {
    return [...this.#sessions.values()].filter((s) => !this.#expired(s));
  }

  /** Live sessions pinned to a package version: a version with any is still in use. */
  countPinned(pkg: PackageRef): number {
    const key = packageKey(pkg);
    let n = 0;
    for (const s of this.#sessions.values()) if (!this.#expired(s) && packageKey(s) === key) n++;
    return n;
  }

  /** What a worker gets for a call (serialized at send: nothing the call does touches the runner's copy). */
  payload(session: SessionRecord): SessionPayload {
    return { id: session.id, context: session.context, state: session.state };
  }

  /** Stores the state a call returned; false (state unchanged) when it exceeds the size bound. */
  setState(session: SessionRecord, state: Record<string, unknown>): boolean {
    if (!isEmpty(state) && Buffer.byteLength(JSON.stringify(state)) > this.#opts.maxStateBytes) return false;
    session.state = state;
    session.last_used_at = this.#opts.now();
    if (this.#sessions.has(session.id) && !this.#ephemeral.has(session.id)) this.#guard("save", () => this.#opts.store.save(session));
    return true;
  }

  get maxStateBytes(): number {
    return this.#opts.maxStateBytes;
  }

  markReset(session: SessionRecord): void {
    this.#opts.onEvent?.({ action: "reset", session });
  }

  end(id: string): SessionRecord {
    const session = this.get(id);
    this.#drop(session, "ended");
    return session;
  }

  /** Runs `fn` with the session locked (calls of one session are serialized) and not expiring. */
  async withSession<T>(id: string, fn: (session: SessionRecord) => Promise<T>): Promise<T> {
    const session = this.get(id);
    const previous = this.#locks.get(id) ?? Promise.resolve();
    this.#busy.set(id, (this.#busy.get(id) ?? 0) + 1);
    const run = previous.then(() => fn(this.get(id)), () => fn(this.get(id)));
    const tail = run.catch(() => undefined);
    this.#locks.set(id, tail);
    try {
      return await run;
    } finally {
      const left = (this.#busy.get(id) ?? 1) - 1;
      if (left === 0) this.#busy.delete(id);
      else this.#busy.set(id, left);
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
      if (this.#sessions.get(id) === session) session.last_used_at = this.#opts.now();
    }
  }

  /** Ends every session pinned to a version that is going away (uninstalled, replaced); returns how many. */
  endPinned(pkg: PackageRef): number {
    const key = packageKey(pkg);
    const pinned = [...this.#sessions.values()].filter((s) => packageKey(s) === key);
    for (const s of pinned) this.#drop(s, "ended");
    return pinned.length;
  }

  /** Drops sessions idle for longer than the TTL (not those with a call running); returns how many. */
  expireIdle(): number {
    let n = 0;
    for (const s of [...this.#sessions.values()]) {
      if (this.#expired(s)) {
        this.#drop(s, "expired");
        n++;
      }
    }
    return n;
  }

  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #expired(s: SessionRecord): boolean {
    return !this.#busy.has(s.id) && this.#opts.now() - s.last_used_at > this.#opts.ttlMs;
  }

  #drop(session: SessionRecord, reason: SessionEndReason): void {
    if (!this.#sessions.delete(session.id)) return;
    if (this.#ephemeral.delete(session.id)) return;
    this.#guard("remove", () => this.#opts.store.remove(session.id, reason));
    this.#opts.onEvent?.({ action: reason, session });
  }

  #guard<T>(action: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.#opts.onStoreError?.(err, action);
      return undefined;
    }
  }
}
