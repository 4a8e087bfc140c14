import { describe, expect, it } from "vitest";
import { backoffDelay, nextFailureCount } from "../../src/supervisor/backoff.js";
import { allowsCalls, closedBreaker, onCrash, onProbeResult, onProbeStart, probeDelay, type Breaker } from "../../src/supervisor/breaker.js";
import { chooseDispatch, MAX_PIPELINE_DEPTH, PIPELINE_MAX_CALL_MS, PIPELINE_SHM_BUDGET, pipelineDepth, type SlotView } from "../../src/supervisor/dispatch.js";
import { roundCapacity } from "../../src/shm/pool.js";
import { bucketIndex, CallMetrics, LATENCY_BUCKETS_MS } from "../../src/supervisor/metrics.js";
import { classifyFailure, shouldRetry } from "../../src/supervisor/retry.js";
import { SessionManager, type SessionRecord, type SessionStore } from "../../src/supervisor/sessions.js";

describe("backoff", () => {
  const policy = { baseMs: 100, maxMs: 1000, stableUptimeMs: 5000 };
  it("restarts at once after a first failure, then doubles up to the cap", () => {
    expect([1, 2, 3, 4, 5, 6, 40].map((n) => backoffDelay(n, policy))).toEqual([0, 100, 200, 400, 800, 1000, 1000]);
  });
  it("starts over after a stable uptime", () => {
    expect(nextFailureCount(4, 100, policy)).toBe(5);
    expect(nextFailureCount(4, 5000, policy)).toBe(1);
  });
});

describe("circuit breaker", () => {
  const policy = { maxCrashes: 2, windowMs: 1000, cooldownMs: 300 };
  const crashAt = (b: Breaker, ...times: number[]) => times.reduce((s, t) => onCrash(s, t, policy), b);

  it("opens on the crash after max_crashes within the window", () => {
    const two = crashAt(closedBreaker, 0, 10);
    expect(two.state).toBe("closed");
    expect(allowsCalls(two)).toBe(true);
    const three = onCrash(two, 20, policy);
    expect(three).toMatchObject({ state: "open", openedAt: 20 });
    expect(allowsCalls(three)).toBe(false);
  });

  it("forgets crashes older than the window", () => {
    expect(crashAt(closedBreaker, 0, 10, 1500).state).toBe("closed");
  });

  it("probes after the cool-down; success closes with a clean history, failure reopens", () => {
    const open = crashAt(closedBreaker, 0, 1, 2);
    expect(probeDelay(open, 100, policy)).toBe(202);
    expect(probeDelay(open, 400, policy)).toBe(0);
    const half = onProbeStart(open);
    expect(half.state).toBe("half_open");
    expect(allowsCalls(half)).toBe(false);
    expect(onCrash(half, 5, policy)).toBe(half);
    expect(onProbeResult(half, true, 500)).toEqual(closedBreaker);
    expect(onProbeResult(half, false, 500)).toMatchObject({ state: "open", openedAt: 500 });
    expect(probeDelay(closedBreaker, 0, policy)).toBeUndefined();
  });
});

describe("dispatch", () => {
  type Kind = "idle" | "busy" | "down";
  // busy = running one long call (depth 1); a number = that many short calls held (depth MAX_PIPELINE_DEPTH).
  const slots = (...kinds: (Kind | number)[]): SlotView[] => kinds.map((kind, index) => {
    if (typeof kind === "number") return { index, ready: true, inflight: kind, depth: MAX_PIPELINE_DEPTH, lastUsedAt: index };
    return { index, ready: kind !== "down", inflight: kind === "busy" ? 1 : 0, depth: kind === "down" ? 0 : 1, lastUsedAt: index };
  });

  it("gives the first job to the least recently used idle worker", () => {
    const s = slots("idle", "idle");
    s[0]!.lastUsedAt = 9;
    expect(chooseDispatch([{}, {}], s)).toEqual({ job: 0, slot: 1 });
  });
  it("waits when no worker has room", () => {
    expect(chooseDispatch([{}], slots("busy", "down"))).toBeUndefined();
    expect(chooseDispatch([{}], slots(MAX_PIPELINE_DEPTH, "busy"))).toBeUndefined();
    expect(chooseDispatch([], slots("idle"))).toBeUndefined();
  });
  it("prefers an idle worker, then queues behind short calls on the worker holding fewest", () => {
    expect(chooseDispatch([{}], slots(1, "idle"))).toEqual({ job: 0, slot: 1 });
    expect(chooseDispatch([{}], slots(2, 1))).toEqual({ job: 0, slot: 1 });
    expect(chooseDispatch([{}], slots(1, "busy"))).toEqual({ job: 0, slot: 0 });
  });
  it("keeps a session on its worker, letting other jobs pass while that worker is full", () => {
    expect(chooseDispatch([{ affinity: 1 }], slots("idle", "idle"))).toEqual({ job: 0, slot: 1 });
    expect(chooseDispatch([{ affinity: 0 }, {}], slots("busy", "idle"))).toEqual({ job: 1, slot: 1 });
    expect(chooseDispatch([{ affinity: 0 }], slots("busy", "idle"))).toBeUndefined();
    expect(chooseDispatch([{ affinity: 0 }], slots(1, "idle"))).toEqual({ job: 0, slot: 0 });
  });
  it("drops the affinity when that worker is gone", () => {
    expect(chooseDispatch([{ affinity: 0 }], slots("down", "idle"))).toEqual({ job: 0, slot: 1 });
    expect(chooseDispatch([{ affinity: 7 }], slots("idle"))).toEqual({ job: 0, slot: 0 });
  });
  it("sends calls behind a running one only while the worker's calls are short", () => {
    expect(pipelineDepth(0.05, 3)).toBe(MAX_PIPELINE_DEPTH);
    expect(pipelineDepth(PIPELINE_MAX_CALL_MS, 3)).toBe(1);
    expect(pipelineDepth(Number.POSITIVE_INFINITY, 0)).toBe(1);
    expect(pipelineDepth(Number.NaN, 0)).toBe(1);
  });
  it("holds fewer big frames, keeping a worker's segments within the budget", () => {
    expect(pipelineDepth(0.5, 640 * 480 * 3)).toBe(MAX_PIPELINE_DEPTH); // 1 MiB segments
    expect(pipelineDepth(0.5, 1920 * 1200 * 3)).toBe(2); // 8 MiB segments
    expect(pipelineDepth(0.5, 4096 * 3000 * 3)).toBe(1);
    expect(pipelineDepth(0.5, 1920 * 1200 * 3) * roundCapacity(1920 * 1200 * 3)).toBeLessThanOrEqual(PIPELINE_SHM_BUDGET);
  });
});

describe("retry rules", () => {
  it("retries RecoverableError, timeouts and lost heartbeats up to max_retries", () => {
    for (const end of ["recoverable", "timeout", "heartbeat"] as const) {
      expect(shouldRetry(end, 1, 2)).toBe(true);
      expect(shouldRetry(end, 2, 2)).toBe(true);
      expect(shouldRetry(end, 3, 2)).toBe(false);
      expect(shouldRetry(end, 1, 0)).toBe(false);
    }
  });
  it("never retries crashes, FatalError, protocol errors or answers", () => {
    for (const end of ["crash", "fatal", "protocol", "done"] as const) expect(shouldRetry(end, 1, 5)).toBe(false);
  });
  it("classifies worker failures by code", () => {
    expect(classifyFailure("1005", false)).toBe("timeout");
    expect(classifyFailure("3001", false)).toBe("crash");
    expect(classifyFailure("3001", true)).toBe("heartbeat");
    expect(classifyFailure("3002", false)).toBe("protocol");
    expect(classifyFailure("1002", false)).toBe("done");
  });
});

describe("metrics", () => {
  it("buckets latencies and counts calls by method, status and code", () => {
    expect(bucketIndex(0.5)).toBe(0);
    expect(bucketIndex(1)).toBe(0);
    expect(bucketIndex(1.5)).toBe(1);
    expect(bucketIndex(1e9)).toBe(LATENCY_BUCKETS_MS.length);
    const m = new CallMetrics();
    m.observe("execute", "OK", null, 3);
    m.observe("execute", "OK", null, 3);
    m.observe("execute", "ERROR", "1005", 30_000);
    const snap = m.snapshot();
    expect(snap.calls).toEqual(expect.arrayContaining([
      { method: "execute", status: "OK", error_code: "", count: 2 },
      { method: "execute", status: "ERROR", error_code: "1005", count: 1 },
    ]));
    expect(snap.latency[0]).toMatchObject({ method: "execute", count: 3, sum_ms: 30_006 });
  });
});

describe("SessionManager", () => {
  const pkg = { name: "a", version: "1" };
  function manager(now: { t: number }, store?: SessionStore, maxStateBytes?: number) {
    return new SessionManager({ ttlMs: 1000, now: () => now.t, ...(store ? { store } : {}), ...(maxStateBytes ? { maxStateBytes } : {}) });
  }

  it("pins a session to its version and expires it when idle", () => {
    const clock = { t: 0 };
    const m = manager(clock);
    const s = m.create("p001", pkg, { line: 3 });
    expect(s).toMatchObject({ pid: "p001", name: "a", version: "1", context: { line: 3 }, state: {} });
    expect(m.countPinned(pkg)).toBe(1);
    clock.t = 999;
    expect(m.get(s.id)).toBe(s);
    clock.t = 2500;
    expect(() => m.get(s.id)).toThrow(expect.objectContaining({ code: "3006" }));
    expect(m.countPinned(pkg)).toBe(0);
    m.close();
  });

  it("does not expire a session while a call runs, and serializes calls of one session", async () => {
    const clock = { t: 0 };
    const m = manager(clock);
    const s = m.create("p001", pkg);
    const order: string[] = [];
    let release!: () => void;
    const first = m.withSession(s.id, async () => {
      order.push("first:start");
      await new Promise<void>((r) => { release = r; });
      order.push("first:end");
    });
    const second = m.withSession(s.id, async () => { order.push("second"); });
    await new Promise((r) => setImmediate(r));
    clock.t = 5000;
    expect(m.expireIdle()).toBe(0);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(["first:start", "first:end", "second"]);
    m.close();
  });

  it("bounds the state size and persists through the store hook", () => {
    const saved: SessionRecord[] = [];
    const removed: string[] = [];
    const store: SessionStore = {
      load: () => [{ id: "old", pid: "p002", name: "a", version: "0", context: {}, state: { k: 1 }, created_at: 0, last_used_at: 0 }],
      save: (s) => saved.push(structuredClone(s)),
      remove: (id, reason) => removed.push(`${id}:${reason}`),
    };
    const clock = { t: 0 };
    const m = manager(clock, store, 64);
    expect(m.get("old").state).toEqual({ k: 1 });
    const s = m.create("p001", pkg);
    expect(m.setState(s, { a: "x".repeat(10) })).toBe(true);
    expect(m.setState(s, { a: "x".repeat(100) })).toBe(false);
    expect(s.state).toEqual({ a: "x".repeat(10) });
    // The context is bounded alike (it goes with every call): refused at creation with 1006.
    expect(() => m.create("p001", pkg, { serial: "x".repeat(100) })).toThrow(expect.objectContaining({ code: "1006", message: expect.stringContaining("larger than 64 bytes") }));
    m.end(s.id);
    expect(saved.map((r) => r.state)).toEqual([{}, { a: "x".repeat(10) }]);
    expect(removed).toEqual([`${s.id}:ended`]);
    expect(() => m.end(s.id)).toThrow(expect.objectContaining({ code: "3006" }));
    m.close();
  });
});
