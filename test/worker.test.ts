import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { StepPayload } from "../src/protocol/messages.js";
import { spawnAdapter } from "../src/worker/adapter-process.js";
import { CallNotStarted, Worker, type WorkerOptions } from "../src/worker/worker.js";
import { fixture, testPython } from "./helpers/python.js";

const live: Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.kill("test over")));
});

async function behave(overrides: Partial<WorkerOptions> = {}): Promise<Worker> {
  const worker = await Worker.start({
    python: testPython(),
    entryPoint: "behave:Behave",
    cwd: fixture("behave"),
    heartbeatIntervalMs: 0,
    killGraceMs: 1000,
    ...overrides,
  });
  live.push(worker);
  return worker;
}

/** Whether `pid` runs (a zombie waiting for its reaper does not). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
}

function step(userParams: Record<string, unknown> = {}, state: Record<string, unknown> = {}, stepIndex = 1): StepPayload {
  return {
    step_index: stepIndex,
    pid: "p001",
    session: { id: "s-1", context: { trace_id: "t-1" }, state },
    user_params: userParams,
    shared_mem_id: "none",
    image_meta: { width: 4, height: 4, timestamp_ms: 0, camera_id: "cam" },
  };
}

describe("Worker with a real Python adapter", () => {
  it("hands shakes: hello, then ready with get_info()", async () => {
    const worker = await behave();
    expect(worker.state).toBe("ready");
    expect(worker.hello).toMatchObject({ protocol_version: 1 });
    expect(worker.info).toMatchObject({ name: "behave", supported_pids: ["p001", "p002"] });
    const info = await worker.call("get_info", {});
    expect(info.data).toMatchObject({ name: "behave" });
  });

  it("keeps the generation its ready frame names, G1 when it names none (adapters before the field)", async () => {
    const named = await behave({ python: fixture("fake-worker.mjs"), env: { FAKE_GENERATION: "G3" } });
    expect(named.generation).toBe("G3");
    const unnamed = await behave({ python: fixture("fake-worker.mjs") });
    expect(unnamed.generation).toBe("G1");
    // The real adapter tells it from the entry class.
    expect((await behave()).generation).toBe("G1");
    expect((await behave({ entryPoint: "g3_algo.main:G3Algo", cwd: fixture("g3") })).generation).toBe("G3");
  });

  it("answers heartbeats while a 3-second call runs", async () => {
    const worker = await behave({ heartbeatIntervalMs: 200, heartbeatGraceMs: 300 });
    const missed: number[] = [];
    worker.on("heartbeat-missed", ({ misses }) => missed.push(misses));
    const since = Date.now();
    const result = await worker.call("execute", step({ sleep_s: 3 }));
    expect(result.status).toBe("OK");
    expect(missed).toEqual([]);
    expect(worker.lastPongAt).toBeGreaterThan(since + 2000);
  });

  it("keeps the frame stream intact when the algorithm writes to stdout at every level", async () => {
    const worker = await behave();
    const result = await worker.call("execute", step({ noise: true }));
    expect(result.status).toBe("OK");
    expect(result.stdout_bytes).toBeGreaterThanOrEqual("python print to stdout\nraw fd write\nlibc write\n".length);
    const next = await worker.call("execute", step());
    expect(next.stdout_bytes).toBe(0);
    const stderr = worker.stderrTail.text();
    expect(stderr).toContain("python print to stdout");
    expect(stderr).toContain("raw fd write");
    expect(stderr).toContain("libc write");
  });

  it("turns an exception into an error result and keeps serving", async () => {
    const worker = await behave();
    const failed = await worker.call("execute", step({ raise: "value" }));
    expect(failed).toMatchObject({ status: "ERROR", error_code: "9999" });
    expect(failed.message).toContain("ValueError");
    expect(failed.message).toContain("bad threshold");
    const ok = await worker.call("execute", step());
    expect(ok.status).toBe("OK");
  });

  it("maps FatalError, RecoverableError and GPUOutOfMemoryError to their codes and flags", async () => {
    const worker = await behave();
    expect(await worker.call("execute", step({ raise: "fatal" }))).toMatchObject({ status: "ERROR", error_code: "9999", fatal: true });
    expect(await worker.call("execute", step({ raise: "recoverable" }))).toMatchObject({ error_code: "9999", retryable: true, fatal: false });
    expect(await worker.call("execute", step({ raise: "oom" }))).toMatchObject({ status: "ERROR", error_code: "1004" });
  });

  it("fails the call with 3001 at once when the worker dies mid-call", async () => {
    const worker = await behave();
    const started = Date.now();
    await expect(worker.call("execute", step({ crash: true }))).rejects.toMatchObject({ code: "3001" });
    expect(Date.now() - started).toBeLessThan(1000);
    const exit = await worker.waitForExit();
    expect(exit).toMatchObject({ code: 3, expected: false });
  });

  it("ends a hung call with 1005 after the timeout and the process is gone", async () => {
    const worker = await behave({ killGraceMs: 500 });
    const started = Date.now();
    await expect(worker.call("execute", step({ sleep_s: 30 }), { timeoutMs: 300 })).rejects.toMatchObject({ code: "1005" });
    expect(Date.now() - started).toBeLessThan(1500);
    const exit = await worker.waitForExit();
    expect(exit.signal === "SIGTERM" || exit.signal === "SIGKILL").toBe(true);
    expect(() => process.kill(worker.pid ?? -1, 0)).toThrow();
  });

  it("runs calls sent behind a running one in order, each timed from its own start", async () => {
    const worker = await behave();
    const started = Date.now();
    // 3 × 250 ms in a row: sent at once, the last ends at ~750 ms, far past its 400 ms timeout counted from sending.
    const calls = [1, 2, 3].map((n) => worker.call("execute", step({ sleep_s: 0.25, n }), { timeoutMs: 400 }));
    expect(worker.inflight).toBe(3);
    const results = await Promise.all(calls);
    expect(results.map((r) => r.status)).toEqual(["OK", "OK", "OK"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect(worker.recentCallMs).toBeGreaterThan(200);
  });

  it("hands back calls queued behind one that crashes or times out: CallNotStarted, not run", async () => {
    for (const [fault, code] of [[{ crash: true }, "3001"], [{ sleep_s: 30 }, "1005"]] as const) {
      const worker = await behave({ killGraceMs: 300 });
      const first = worker.call("execute", step({ sleep_s: 0.2, ...fault }), { timeoutMs: 500 });
      const queued = [worker.call("execute", step()), worker.call("execute", step())];
      await expect(first).rejects.toMatchObject({ code });
      for (const q of queued) {
        const err = await q.then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(CallNotStarted);
        expect(err).toMatchObject({ code: "3001", message: expect.stringMatching(/call not started/) });
      }
      await worker.waitForExit();
    }
  });

  it("runs teardown exactly once on shutdown and exits 0", async () => {
    const markers = mkdtempSync(path.join(tmpdir(), "pv-markers-"));
    const worker = await behave({ env: { BEHAVE_MARKERS: markers } });
    const exit = await worker.shutdown();
    expect(exit).toMatchObject({ code: 0, expected: true });
    expect(readFileSync(path.join(markers, "teardown"), "utf8")).toBe("x");
  });

  it("ends the processes the algorithm started with the worker, and does not wait for the pipes they hold", async () => {
    const markers = mkdtempSync(path.join(tmpdir(), "pv-markers-"));
    for (const end of ["shutdown", "kill", "crash"] as const) {
      rmSync(path.join(markers, "helper"), { force: true });
      const worker = await behave({ env: { BEHAVE_MARKERS: markers, BEHAVE_HELPER: "1" } });
      const helper = Number(readFileSync(path.join(markers, "helper"), "utf8"));
      expect(running(helper)).toBe(true);
      // The helper would hold the worker's stdout and stderr open for 300 s: the exit is seen all the same.
      if (end === "shutdown") expect(await worker.shutdown()).toMatchObject({ code: 0, expected: true });
      else if (end === "kill") await worker.kill("test");
      else {
        await expect(worker.call("execute", step({ crash: true }))).rejects.toMatchObject({ code: "3001" });
        await worker.waitForExit();
      }
      await expect.poll(() => running(helper), { timeout: 10_000, interval: 50 }).toBe(false);
    }
  }, 60_000);

  it("a worker whose runner is gone (stdin EOF, nobody to kill its group) ends what its algorithm started itself", async () => {
    const markers = mkdtempSync(path.join(tmpdir(), "pv-markers-"));
    // As a runner killed with SIGKILL leaves it: the adapter alone, leading its process group.
    const child = spawnAdapter({ python: testPython(), entryPoint: "behave:Behave", cwd: fixture("behave"), maxFrameBytes: 64 * 1024 * 1024, env: { BEHAVE_MARKERS: markers, BEHAVE_HELPER: "1" } });
    try {
      await expect.poll(() => existsSync(path.join(markers, "helper")), { timeout: 30_000, interval: 20 }).toBe(true);
      const helper = Number(readFileSync(path.join(markers, "helper"), "utf8"));
      expect(running(helper)).toBe(true);
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.stdin.end();
      expect(await exited).toBe(0);
      await expect.poll(() => running(helper), { timeout: 10_000, interval: 50 }).toBe(false);
    } finally {
      child.kill("SIGKILL");
    }
  }, 60_000);

  it("runs teardown once when stdin closes", async () => {
    const markers = mkdtempSync(path.join(tmpdir(), "pv-markers-"));
    const worker = await behave({ env: { BEHAVE_MARKERS: markers } });
    (worker as unknown as { child: { stdin: NodeJS.WritableStream } }).child.stdin.end();
    const exit = await worker.waitForExit();
    expect(exit.code).toBe(0);
    expect(readFileSync(path.join(markers, "teardown"), "utf8")).toBe("x");
  });

  it("carries session state from pre_execute into execute and runs step hooks in order", async () => {
    const worker = await behave();
    const pre = await worker.call("pre_execute", step());
    expect(pre.session_state).toEqual({ seen_pre: 1 });
    const exec = await worker.call("execute", step({}, pre.session_state));
    expect(exec.data).toMatchObject({ seen_pre: 1, events: ["start:1"] });
    const next = await worker.call("execute", step({}, exec.session_state, 2));
    expect(next.data.events).toEqual(["start:1", "finish:1", "start:2"]);
    expect(next.debug).toMatchObject({ calls: 3 });
  });

  it("setup() raising is a hook's failure (contract §3): logged, the worker is ready all the same and says what it raised", async () => {
    const worker = await behave({ env: { BEHAVE_SETUP_FAIL: "1" } });
    expect(worker.setupError).toBe("FileNotFoundError: model.onnx not found");
    expect((await worker.call("execute", step({}))).status).toBe("OK");
    await expect.poll(() => worker.stderrTail.text()).toMatch(/setup\(\) raised.*model\.onnx not found/);
    expect((await behave()).setupError).toBeUndefined();
  });

  it("fails start-up with the algorithm's error and stderr when get_info() raises", async () => {
    const failure = behave({ env: { BEHAVE_INFO_FAIL: "1" } });
    await expect(failure).rejects.toMatchObject({ code: expect.stringMatching(/^(1003|9999)$/) });
    await expect(failure).rejects.toThrow(/model.onnx not found/);
    // The traceback travels on stderr, after the error frame on stdout: it is in the failure every time.
    for (let i = 0; i < 5; i++) {
      await expect(behave({ env: { BEHAVE_INFO_FAIL: "1" } })).rejects.toMatchObject({
        details: { stderr_tail: expect.stringMatching(/Traceback[\s\S]*FileNotFoundError: model\.onnx not found/) as unknown },
      });
    }
  });

  it("says in which phase start-up failed", async () => {
    await expect(behave({ env: { BEHAVE_INFO_FAIL: "1" } })).rejects.toMatchObject({ details: { phase: "get_info" } });
    await expect(behave({ entryPoint: "behave:Missing" })).rejects.toMatchObject({ details: { phase: "import" } });
  });

  it("tells whether the entry point is a BaseAlgorithm and flags a non-dict return", async () => {
    expect((await behave()).baseAlgorithm).toBe(true);
    expect((await behave({ entryPoint: "behave:NotAnAlgorithm" })).baseAlgorithm).toBe(false);
    const result = await (await behave()).call("execute", step({ return_none: true }));
    expect(result).toMatchObject({ status: "ERROR", error_code: "9999", invalid_return: "NoneType" });
  });

  it("fails start-up with 1005 when ready does not come in time, and kills the process", async () => {
    await expect(behave({ env: { BEHAVE_SETUP_SLEEP: "20" }, startupTimeoutMs: 500 })).rejects.toMatchObject({ code: "1005" });
  });

  it("fails start-up with a clear error for an entry point that does not import", async () => {
    await expect(behave({ entryPoint: "nope.module:Missing" })).rejects.toThrow(/nope\.module/);
  });

  it("kills a worker that stops answering heartbeats (SIGSTOP)", async () => {
    const worker = await behave({ heartbeatIntervalMs: 100, heartbeatGraceMs: 150 });
    process.kill(worker.pid ?? -1, "SIGSTOP");
    const exit = await worker.waitForExit();
    expect(exit.reason).toMatch(/no pong/);
    expect(exit.signal).toBe("SIGKILL");
  });

  it("refuses a worker speaking another protocol version with 3002 naming both versions, before any call", async () => {
    const started = behave({ python: fixture("fake-worker.mjs"), env: { FAKE_PROTOCOL_VERSION: "2" } });
    await expect(started).rejects.toMatchObject({
      code: "3002",
      message: expect.stringMatching(/worker speaks protocol version 2 \(SDK fake\), this runner speaks version 1/),
      hint: expect.stringMatching(/install the package again/),
    });
  });

  it.each([
    ["junk bytes", "junk"],
    ["an oversized length", "oversized"],
    ["a frame that is not an object", "array"],
    ["a frame of unknown type", "unknown"],
  ])("treats %s on the worker's stdout as a protocol error, never a hang", async (_label, mode) => {
    const worker = await behave({ python: fixture("fake-worker.mjs"), env: { FAKE_MODE: mode } });
    const errors: string[] = [];
    worker.on("protocol-error", (e) => errors.push(e.code));
    await expect(worker.call("execute", step())).rejects.toMatchObject({ code: "3002" });
    expect(errors).toContain("3002");
    const exit = await worker.waitForExit();
    expect(exit.reason).toMatch(/protocol error/);
  });
});
