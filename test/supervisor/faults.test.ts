import { describe, expect, it } from "vitest";
import type { PoolTuning } from "../../src/supervisor/pool.js";
import { alive, fastConfig, fastTuning, makePackage, makeSupervisor, nextEvent, rawImage, waitFor, stopAfterEach } from "./helpers.js";

const track = stopAfterEach();

async function running(config: Parameters<typeof fastConfig>[0] = {}, control: Record<string, unknown> = {}, tuning: Partial<PoolTuning> = {}) {
  const pkg = makePackage(control);
  const h = makeSupervisor(fastConfig(config), { p001: pkg.spec }, { tuning: { ...fastTuning, ...tuning } });
  track(h);
  await h.sup.ensureRunning(pkg.spec);
  const execute = (userParams: Record<string, unknown> = {}) =>
    h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", user_params: userParams, image: rawImage() });
  const workerPid = () => h.sup.status()[0]?.workers[0]?.pid ?? -1;
  return { pkg, h, execute, workerPid };
}

describe("Supervisor fault handling with real workers", () => {
  it("kill -9 of a worker mid-call → 3001 at once, then the next call succeeds", async () => {
    const { h, execute, workerPid } = await running();
    const pid = workerPid();
    const call = execute({ sleep_s: 10 });
    await waitFor(() => h.sup.status()[0]?.workers[0]?.state === "busy", 5000, "the call to be dispatched");
    process.kill(pid, "SIGKILL");
    const res = await call;
    // "At once": answered as a crash (the process's exit), not by the 5 s execute timeout (1005) nor by missed
    // heartbeats; how fast is a benchmark figure, not a wall-clock bound a loaded machine can break.
    expect(res.execute).toMatchObject({ status: "ERROR", error_code: "3001" });
    const next = await execute();
    expect(next.execute?.status).toBe("OK");
    expect(next.execute?.data.worker_pid).not.toBe(pid);
    expect(h.events).toContainEqual(expect.objectContaining({ type: "worker-exit", cause: "crash", pid }));
    expect(h.sup.status()[0]?.workers[0]?.restarts).toBe(1);
  });

  it("calls queued at a worker behind one that crashes, times out or raises FatalError run again elsewhere, not as failures or retries", async () => {
    const faults = [[{ crash_after_s: 0.3 }, "3001"], [{ sleep_s: 30 }, "1005"], [{ sleep_s: 0.3, fatal: true }, "9999"]] as const;
    for (const [fault, code] of faults) {
      // Every call counts as short here, so a loaded test machine cannot turn pipelining off.
      const { h, execute, workerPid } = await running({ execute_timeout_ms: 400 }, {}, { pipelineMaxCallMs: 60_000 });
      expect((await execute()).execute?.status).toBe("OK");
      const lostPid = workerPid();
      const first = execute(fault);
      const answered: number[] = [];
      const behind = [1, 2].map((n) => execute().then((r) => { answered.push(n); return r; }));
      await waitFor(() => h.sup.status()[0]?.workers[0]?.inflight === 3, 2000, "two calls sent behind the first");
      expect((await first).execute).toMatchObject({ status: "ERROR", error_code: code });
      for (const r of await Promise.all(behind)) {
        expect(r.execute, JSON.stringify([fault, r.execute])).toMatchObject({ status: "OK" });
        expect(r.execute?.data.worker_pid, JSON.stringify(fault)).not.toBe(lostPid); // never answered by the worker that was lost
      }
      expect(answered).toEqual([1, 2]); // handed back in their order
      expect(h.records.slice(-3).map((r) => r.attempts)).toEqual([1, 1, 1]);
      expect(h.events.filter((e) => e.type === "call-retry")).toEqual([]);
    }
  });

  it("calls held behind the crash that opens the circuit fail fast with 3003 instead of waiting for the probe", async () => {
    const { h, execute } = await running({ breaker_max_crashes: 1, breaker_window_ms: 60_000 }, {}, { pipelineMaxCallMs: 60_000, breakerCooldownMs: 30_000 });
    const ready = nextEvent(h.sup, "worker-ready");
    expect((await execute({ crash: true })).execute?.error_code).toBe("3001");
    await ready;
    expect((await execute()).execute?.status).toBe("OK"); // the new worker's calls are short: pipelining on
    const first = execute({ crash_after_s: 0.3 });
    const behind = [execute(), execute()];
    await waitFor(() => h.sup.status()[0]?.workers[0]?.inflight === 3, 2000, "two calls sent behind the first");
    const t0 = performance.now();
    expect((await first).execute?.error_code).toBe("3001");
    for (const b of behind) await expect(b).rejects.toMatchObject({ code: "3003" });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(h.sup.status()[0]?.circuit).toBe("open");
  });

  it("an execute that sleeps past the timeout → 1005, the process is gone, the next call is fine", async () => {
    const { h, execute, workerPid } = await running({ execute_timeout_ms: 400 });
    const pid = workerPid();
    const exited = nextEvent(h.sup, "worker-exit", (e) => e.pid === pid);
    const res = await execute({ sleep_s: 30 });
    expect(res.execute).toMatchObject({ status: "ERROR", error_code: "1005" });
    expect(res.execute?.latency_ms).toBeGreaterThanOrEqual(400);
    expect(await exited).toMatchObject({ cause: "timeout", signal: "SIGTERM" });
    expect(alive(pid)).toBe(false);
    const next = await execute();
    expect(next.execute?.status).toBe("OK");
  });

  it("retries a timeout up to max_retries on fresh workers before answering 1005", async () => {
    const { h, execute } = await running({ execute_timeout_ms: 300, max_retries: 1 }, { sleep_s: 30, sleep_on: "execute" });
    const res = await execute();
    expect(res.execute).toMatchObject({ status: "ERROR", error_code: "1005" });
    expect(h.records[0]?.attempts).toBe(2);
    expect(h.events.filter((e) => e.type === "call-retry")).toHaveLength(1);
  });

  it("timeouts are not crashes: workers killed for them never open the circuit", async () => {
    const { h, execute } = await running({ execute_timeout_ms: 300, max_retries: 1, breaker_max_crashes: 1, breaker_window_ms: 60_000 });
    for (let i = 0; i < 2; i++) expect((await execute({ sleep_s: 30 })).execute).toMatchObject({ error_code: "1005" });
    await waitFor(() => h.events.filter((e) => e.type === "worker-exit" && e.cause === "timeout").length === 4);
    expect((await execute()).execute?.status).toBe("OK");
    expect(h.events.some((e) => e.type === "breaker")).toBe(false);
  });

  it("SIGSTOP of a worker is detected within interval + 2 × grace and the worker replaced", async () => {
    // interval ≫ grace, so the bound (I + 2G = 800 ms) also tells it apart from probing only on ticks (2I + G = 1300 ms).
    const interval = 600;
    const grace = 100;
    const { h, execute, workerPid } = await running({ heartbeat_interval_ms: interval, heartbeat_grace_ms: grace });
    const pid = workerPid();
    const exited = nextEvent(h.sup, "worker-exit", (e) => e.pid === pid);
    const replaced = nextEvent(h.sup, "worker-ready", (e) => e.pid !== pid);
    const stoppedAt = performance.now();
    process.kill(pid, "SIGSTOP");
    const exit = await exited;
    const detectedIn = performance.now() - stoppedAt;
    expect(exit).toMatchObject({ cause: "heartbeat", signal: "SIGKILL" });
    // Event-loop slack on a busy 2-core machine on top of the bound.
    expect(detectedIn).toBeLessThan(interval + 2 * grace + 300);
    await replaced;
    expect(h.events.filter((e) => e.type === "heartbeat-missed" && e.pid === pid).map((e) => e.type === "heartbeat-missed" && e.misses)).toEqual([1, 2]);
    expect((await execute()).execute?.status).toBe("OK");
  });

  it("a worker lost to heartbeats during a call is retried on its replacement", async () => {
    const { h, execute, workerPid } = await running({ heartbeat_interval_ms: 200, heartbeat_grace_ms: 150, max_retries: 1 });
    const pid = workerPid();
    const call = execute({ sleep_s: 0.5 });
    await waitFor(() => h.sup.status()[0]?.workers[0]?.state === "busy", 5000, "the call to be dispatched");
    process.kill(pid, "SIGSTOP");
    const res = await call;
    expect(res.execute?.status).toBe("OK");
    expect(res.execute?.data.worker_pid).not.toBe(pid);
    expect(h.events).toContainEqual(expect.objectContaining({ type: "call-retry", reason: "heartbeat" }));
  });

  it("crash on every call opens the circuit after breaker_max_crashes, fails fast with 3003, recovers half-open", async () => {
    const { pkg, h, execute } = await running({ breaker_max_crashes: 2, breaker_window_ms: 60_000 }, { crash_on: "execute" });
    const opened = nextEvent(h.sup, "breaker", (e) => e.to === "open");
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) {
      // Each crash restarts the worker (with backoff); wait for it so the next call reaches a live worker.
      const ready = i < 2 ? nextEvent(h.sup, "worker-ready") : undefined;
      codes.push((await execute()).execute?.error_code ?? "");
      await ready;
    }
    expect(codes).toEqual(["3001", "3001", "3001"]);
    await opened;
    // Fails fast: refused while the circuit is open, without a worker start (how fast is a benchmark figure).
    const startsBefore = h.events.filter((e) => e.type === "worker-starting").length;
    await expect(execute()).rejects.toMatchObject({ code: "3003" });
    expect(h.events.filter((e) => e.type === "worker-starting").length).toBe(startsBefore);
    expect(h.sup.status()[0]?.circuit).toBe("open");
    expect(h.sup.metrics().pools[0]).toMatchObject({ breaker_state: 2, breaker_opens: 1 });
    pkg.setControl({});
    await nextEvent(h.sup, "breaker", (e) => e.from === "half_open" && e.to === "closed");
    expect((await execute()).execute?.status).toBe("OK");
    expect(h.events.filter((e) => e.type === "breaker").map((e) => e.type === "breaker" && `${e.from}→${e.to}`))
      .toEqual(["closed→open", "open→half_open", "half_open→closed"]);
  });

  it("a worker that answers between crashes restarts at once each time: its backoff starts over", async () => {
    const { h, execute } = await running({ breaker_max_crashes: 100 }, {}, { backoff: { baseMs: 5_000, maxMs: 30_000, stableUptimeMs: 600_000 } });
    for (let i = 0; i < 3; i++) {
      const ready = nextEvent(h.sup, "worker-ready");
      expect((await execute({ crash: true })).execute?.error_code).toBe("3001");
      await ready;
      expect((await execute()).execute?.status).toBe("OK");
    }
    const delays = h.events.filter((e) => e.type === "worker-restart-scheduled").map((e) => e.type === "worker-restart-scheduled" && [e.failures, e.delay_ms]);
    expect(delays).toEqual([[1, 0], [1, 0], [1, 0]]);
  });

  it("a start that keeps failing opens the circuit and the probe reopens it until the fault is gone", async () => {
    const { pkg, h, execute } = await running({ breaker_max_crashes: 1 });
    pkg.setControl({ start_fail: true, crash_on: "execute" });
    const reopened = nextEvent(h.sup, "breaker", (e) => e.from === "half_open" && e.to === "open");
    expect((await execute()).execute?.error_code).toBe("3001");
    await reopened;
    await expect(execute()).rejects.toMatchObject({ code: "3003" });
    pkg.setControl({});
    await nextEvent(h.sup, "breaker", (e) => e.to === "closed");
    expect((await execute()).execute?.status).toBe("OK");
  });

  it("retries a RecoverableError and then succeeds", async () => {
    const { h, execute } = await running({ max_retries: 2 }, { recoverable_times: 2 });
    const res = await execute();
    expect(res.execute?.status).toBe("OK");
    expect(h.records[0]).toMatchObject({ status: "OK", attempts: 3 });
    expect(h.events.filter((e) => e.type === "call-retry").map((e) => e.type === "call-retry" && e.reason)).toEqual(["recoverable", "recoverable"]);
    expect(h.events.some((e) => e.type === "worker-exit")).toBe(false);
  });

  it("gives up after max_retries RecoverableErrors with the algorithm's error", async () => {
    const { h, execute } = await running({ max_retries: 1 }, { recoverable_times: 5 });
    const res = await execute();
    expect(res.execute).toMatchObject({ status: "ERROR", error_code: "9999", message: expect.stringContaining("camera buffer") });
    expect(h.records[0]?.attempts).toBe(2);
  });

  it("FatalError answers 9999 and restarts the worker (teardown runs)", async () => {
    const { pkg, h, execute, workerPid } = await running({}, { fatal: true });
    const pid = workerPid();
    const replaced = nextEvent(h.sup, "worker-ready", (e) => e.pid !== pid);
    const res = await execute();
    expect(res.execute).toMatchObject({ status: "ERROR", error_code: "9999" });
    await replaced;
    expect(h.events).toContainEqual(expect.objectContaining({ type: "worker-exit", cause: "fatal", pid }));
    pkg.setControl({});
    expect((await execute()).execute?.status).toBe("OK");
  });

  it("a worker that cannot start fails ensureRunning with its error and leaves nothing running", async () => {
    const pkg = makePackage({ start_fail: true });
    const h = makeSupervisor(fastConfig(), { p001: pkg.spec });
    track(h);
    await expect(h.sup.ensureRunning(pkg.spec)).rejects.toMatchObject({ message: expect.stringContaining("start failed on purpose") });
    expect(h.sup.status()).toEqual([]);
    // The PID is bound to a version that does not run: no package serves it (3004), and the hint says how to start it.
    await expect(h.sup.inspect({ pid: "p001", step_index: 1, image: rawImage() })).rejects
      .toMatchObject({ code: "3004", message: expect.stringContaining("is not running"), hint: expect.stringContaining("procvision-runner start sup-algo 1.0") });
  });

  it("startup_timeout_ms bounds a worker's start (import and setup()): a slower one fails with 1005 naming the key", async () => {
    const pkg = makePackage({ setup_sleep_s: 30 });
    const h = makeSupervisor(fastConfig({ startup_timeout_ms: 500 }), { p001: pkg.spec });
    track(h);
    await expect(h.sup.ensureRunning(pkg.spec)).rejects.toMatchObject({
      code: "1005", message: expect.stringMatching(/did not become ready within 500 ms/), hint: expect.stringMatching(/startup_timeout_ms in runner_config\.json/),
    });
    expect(h.sup.status()).toEqual([]);
  });
});
