// Issue 7 part 2: the wire protocol under hostile input. Property-based tests (fast-check) of the frame decoder and
// the worker message schemas, then a fuzzing worker (test/fixtures/reliability/fuzz-worker.mjs, started where the
// runner starts Python) that sends random frames, partial frames, floods stdout/stderr or stops reading stdin: the
// host stays responsive, the worker is killed and replaced (3002 / 1005), and memory stays bounded.
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { ProcVisionError } from "../../src/errors/index.js";
import { manifestSchema } from "../../src/manifest/schema.js";
import { encodeFrame, FrameDecoder, HEADER_BYTES } from "../../src/protocol/frame-codec.js";
import { parseWorkerMessage } from "../../src/protocol/messages.js";
import type { PackageSpec } from "../../src/supervisor/types.js";
import { Worker } from "../../src/worker/worker.js";
import { fixture } from "../helpers/python.js";
import { fastConfig, makeSupervisor, rawImage, waitFor } from "../supervisor/helpers.js";
import { chunked } from "../helpers/chunked.js";

const FUZZ_WORKER = fixture(path.join("reliability", "fuzz-worker.mjs"));
const work = mkdtempSync(path.join(tmpdir(), "pv-rel-fuzz-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// ---- frame decoder and schemas ------------------------------------------------------------------------------------

const jsonObject = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 });
const requestId = fc.string({ minLength: 1, maxLength: 12 });
/** Frames a well-behaved worker may send. */
const workerFrame = fc.oneof(
  fc.record({ type: fc.constant("hello"), sdk_version: fc.string(), protocol_version: fc.integer(), capabilities: fc.array(fc.string()) }),
  fc.record({ type: fc.constant("ready"), info: jsonObject }),
  fc.record({ type: fc.constant("pong"), request_id: requestId }),
  fc.record({ type: fc.constant("error"), request_id: fc.option(requestId), error_code: fc.oneof(fc.string(), fc.integer()), message: fc.string() }),
  fc.record({
    type: fc.constant("result"), request_id: requestId, status: fc.constantFrom("OK", "ERROR"), message: fc.string(),
    error_code: fc.option(fc.string()), data: jsonObject, debug: jsonObject, session_state: jsonObject, stdout_bytes: fc.nat(),
  }),
  fc.record({ type: fc.constant("shutdown"), status: fc.constant("OK") }),
);

const isCoded = (err: unknown): boolean => err instanceof ProcVisionError && err.code === "3002";

describe("frame decoder properties", () => {
  afterEach(() => vi.restoreAllMocks());

  it("any chunking of a stream of valid worker frames decodes to the same messages as the whole stream", () => {
    fc.assert(fc.property(fc.array(workerFrame, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 40 }), (frames, cuts) => {
      const stream = Buffer.concat(frames.map((f) => encodeFrame(f)));
      const whole = new FrameDecoder().push(stream).map(parseWorkerMessage);
      const decoder = new FrameDecoder();
      const pieces = chunked(stream, cuts).flatMap((c) => decoder.push(c)).map(parseWorkerMessage);
      expect(pieces).toEqual(whole);
      expect(whole.map((m) => m.type)).toEqual(frames.map((f) => f.type));
      expect(decoder.pendingBytes).toBe(0);
    }), { numRuns: 300 });
  });

  it("byte-at-a-time feeding equals one push", () => {
    fc.assert(fc.property(fc.array(workerFrame, { minLength: 1, maxLength: 3 }), (frames) => {
      const stream = Buffer.concat(frames.map((f) => encodeFrame(f)));
      const decoder = new FrameDecoder();
      const out = [];
      for (let i = 0; i < stream.length; i++) out.push(...decoder.push(stream.subarray(i, i + 1)));
      expect(out).toEqual(new FrameDecoder().push(stream));
    }), { numRuns: 50 });
  });

  it("random bytes (and random bytes after valid frames) never throw anything but 3002, never allocate past the limit", () => {
    const limit = 4096;
    const allocations: number[] = [];
    const real = Buffer.allocUnsafe.bind(Buffer);
    let decoding = false; // count the decoder's allocations, not the generators' (encodeFrame allocates too)
    vi.spyOn(Buffer, "allocUnsafe").mockImplementation((size: number) => {
      if (decoding) allocations.push(size);
      return real(size);
    });
    // Headers near the edges (0, limit, limit+1, 2^32-1) are what a naive decoder gets wrong; random bytes rarely hit them.
    const length = fc.oneof(fc.constantFrom(0, 1, limit, limit + 1, 0x7fffffff, 0xffffffff), fc.nat({ max: 2 * limit }));
    const hostileHeader = length.map((n) => {
      const h = Buffer.alloc(HEADER_BYTES);
      h.writeUInt32BE(n);
      return h;
    });
    const piece = fc.oneof(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), hostileHeader, workerFrame.map((f) => encodeFrame(f)));
    fc.assert(fc.property(fc.array(piece, { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { maxLength: 10 }), (pieces, cuts) => {
      const decoder = new FrameDecoder(limit);
      let failure: unknown;
      for (const chunk of chunked(Buffer.concat(pieces), cuts)) {
        try {
          decoding = true;
          const frames = decoder.push(chunk);
          decoding = false;
          for (const frame of frames) {
            expect(typeof frame === "object" && frame !== null && !Array.isArray(frame)).toBe(true);
            try {
              parseWorkerMessage(frame);
            } catch (err) {
              expect(isCoded(err), String(err)).toBe(true);
            }
          }
        } catch (err) {
          decoding = false;
          expect(isCoded(err), String(err)).toBe(true);
          failure ??= err;
          // Poisoned: every later push fails with the same error (a stream cannot be resynchronised).
          expect(() => decoder.push(Buffer.from([1, 2, 3]))).toThrow((err as Error).message);
          break;
        }
      }
      void failure;
    }), { numRuns: 500 });
    expect(Math.max(0, ...allocations)).toBeLessThanOrEqual(limit);
  });

  it("a header announcing the maximum is refused before anything is allocated for it", () => {
    const decoder = new FrameDecoder(1024);
    const spy = vi.spyOn(Buffer, "allocUnsafe");
    expect(() => decoder.push(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(/exceeds the limit of 1024 bytes/);
    expect(spy).not.toHaveBeenCalled();
  });

  it("message schemas: arbitrary objects are a typed message or a 3002, never another exception", () => {
    const types = fc.constantFrom("hello", "ready", "error", "pong", "result", "shutdown", "call", "", "__proto__", "constructor");
    const anything = fc.anything({ maxDepth: 2, withNullPrototype: true, withObjectString: true });
    const frames = fc.oneof(
      jsonObject,
      fc.dictionary(fc.constantFrom("type", "request_id", "status", "data", "debug", "session_state", "error_code", "message", "info", "stdout_bytes", "__proto__", "protocol_version"), anything),
      fc.record({ type: types }, { requiredKeys: [] }).chain((base) => fc.dictionary(fc.string(), anything).map((rest) => ({ ...rest, ...base }))),
    );
    fc.assert(fc.property(frames, (frame) => {
      try {
        const message = parseWorkerMessage(frame as Record<string, unknown>);
        expect(["hello", "ready", "error", "pong", "result", "shutdown"]).toContain(message.type);
        if (message.type === "result") {
          expect(typeof message.request_id).toBe("string");
          expect(typeof message.data).toBe("object");
          expect(Number.isInteger(message.stdout_bytes)).toBe(true);
        }
      } catch (err) {
        expect(isCoded(err), String(err)).toBe(true);
      }
    }), { numRuns: 2000 });
  });

  it("JSON with a __proto__ key does not pollute prototypes", () => {
    const frame = new FrameDecoder().push(Buffer.from(encodeFrame({})))[0];
    expect(frame).toEqual({});
    const body = Buffer.from('{"type":"result","request_id":"r1","status":"OK","__proto__":{"polluted":true},"data":{"__proto__":{"x":1}}}');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    const [decoded] = new FrameDecoder().push(Buffer.concat([head, body]));
    parseWorkerMessage(decoded!);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

// ---- a fuzzing worker against the host -----------------------------------------------------------------------------

/** Tracks the event loop: the longest gap between 10 ms ticks while it runs. */
function lagMonitor(): { stop: () => number } {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 10);
    last = now;
  }, 10);
  return { stop: () => (clearInterval(timer), worst) };
}

/** Peak RSS growth while `fn` runs. */
async function peakRss<T>(fn: () => Promise<T>): Promise<{ value: T; growth: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  try {
    const value = await fn();
    return { value, growth: Math.max(peak, process.memoryUsage().rss) - base };
  } finally {
    clearInterval(timer);
  }
}

const started: Worker[] = [];
async function fuzzWorker(env: Record<string, string>, extra: { heartbeatIntervalMs?: number; heartbeatGraceMs?: number; maxFrameBytes?: number } = {}): Promise<Worker> {
  const w = await Worker.start({
    python: FUZZ_WORKER, entryPoint: "fuzz:Fuzz", cwd: work, env, startupTimeoutMs: 10_000, heartbeatIntervalMs: 0, killGraceMs: 300, ...extra,
  });
  started.push(w);
  return w;
}
afterAll(async () => {
  await Promise.all(started.map((w) => w.kill("test over")));
});

const call = (w: Worker, timeoutMs = 3_000) => w.call("get_info", {}, { timeoutMs });

describe("the Worker against a fuzzing worker", () => {
  it.each([
    ["random-frames", /3002/],
    ["junk", /3002/],
    ["huge-header", /3002/],
  ])("%s: the call fails with 3002 at once and the process is killed", async (mode) => {
    const w = await fuzzWorker({ FUZZ_MODE: mode, FUZZ_COUNT: "20" });
    const t0 = performance.now();
    const err = await call(w).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcVisionError);
    expect((err as ProcVisionError).code).toBe("3002");
    expect(performance.now() - t0).toBeLessThan(2_000);
    const exit = await w.waitForExit();
    expect(exit).toMatchObject({ expected: true, signal: "SIGKILL", reason: expect.stringMatching(/protocol error/) });
  });

  it("random frames, many runs: every outcome is a result, 3002 or 1005 and every process ends", async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 12; i++) {
      const w = await fuzzWorker({ FUZZ_MODE: "random-frames", FUZZ_COUNT: String(1 + (i % 4)) });
      const result = await call(w, 1_000).then(() => "result", (e: unknown) => (e instanceof ProcVisionError ? e.code : `uncoded: ${String(e)}`));
      outcomes.push(result);
      await w.kill("next");
    }
    expect(outcomes.filter((o) => !["result", "3002", "1005"].includes(o))).toEqual([]);
  });

  it("partial frame then silence: the call times out with 1005 and the worker is terminated", async () => {
    const w = await fuzzWorker({ FUZZ_MODE: "partial-frame" });
    const err = await call(w, 500).catch((e: unknown) => e);
    expect((err as ProcVisionError).code).toBe("1005");
    const exit = await w.waitForExit();
    expect(exit.expected).toBe(true);
  });

  it("a worker that stops reading stdin: heartbeats kill it, and calls written into the full pipe stay bounded", async () => {
    const w = await fuzzWorker({ FUZZ_MODE: "deaf" }, { heartbeatIntervalMs: 100, heartbeatGraceMs: 100 });
    // 64 calls with 256 KiB payloads cannot all fit in a pipe: the host must not block on them.
    const monitor = lagMonitor();
    const big = { blob: "x".repeat(256 * 1024) } as never;
    const calls = Array.from({ length: 64 }, () => w.call("get_info", big, { timeoutMs: 5_000 }).catch((e: unknown) => e));
    const exit = await w.waitForExit();
    const errors = await Promise.all(calls);
    expect(monitor.stop()).toBeLessThan(500);
    expect(exit.reason).toMatch(/no pong within 100 ms twice running/);
    expect(errors.every((e) => e instanceof ProcVisionError && e.code === "3001")).toBe(true);
  });

  it("a stdout flood of well-formed frames: the host stays responsive and memory stays bounded", async () => {
    const w = await fuzzWorker({ FUZZ_MODE: "flood-frames", FUZZ_MB: "128" });
    const monitor = lagMonitor();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 20);
    const { value: result, growth } = await peakRss(() => call(w, 60_000));
    clearInterval(ticker);
    const lag = monitor.stop();
    expect(result.status).toBe("OK");
    expect(ticks).toBeGreaterThan(0);
    expect(lag).toBeLessThan(1_000);
    expect(growth).toBeLessThan(200 * 1024 * 1024);
  }, 60_000);

  it.each(["flood-stderr", "flood-stderr-lines"])("%s (256 MiB): the call still answers, the tail stays bounded, memory stays bounded", async (mode) => {
    const w = await fuzzWorker({ FUZZ_MODE: mode, FUZZ_MB: "256" });
    const monitor = lagMonitor();
    const { value: result, growth } = await peakRss(() => call(w, 60_000));
    expect(monitor.stop()).toBeLessThan(1_000);
    expect(result.status).toBe("OK");
    expect(growth).toBeLessThan(160 * 1024 * 1024);
    const tail = w.stderrTail.entries();
    expect(tail.length).toBeLessThanOrEqual(200);
    expect(Math.max(...tail.map((l) => l.text.length))).toBeLessThanOrEqual(8_193);
  }, 60_000);
});

describe("the supervisor replaces a hostile worker and keeps serving", () => {
  it("3002 in the call's result, a new worker process, and the next inspection succeeds; a healthy package is unaffected", async () => {
    const control = path.join(work, "control");
    writeFileSync(control, "ok");
    const manifest = manifestSchema.parse({ name: "fuzz", version: "1.0", entry_point: "fuzz:Fuzz", supported_pids: ["p1", "p2"], steps: [{ index: 1, name: "s", params: [] }] });
    const spec = (name: string, env: Record<string, string>): PackageSpec => ({ name, version: "1.0", dir: work, python: FUZZ_WORKER, entryPoint: "fuzz:Fuzz", manifest: { ...manifest, name }, env });
    const hostile = spec("fuzz", { FUZZ_CONTROL: control, FUZZ_MB: "64" });
    const healthy = spec("calm", { FUZZ_MODE: "ok" });
    const h = makeSupervisor(fastConfig({ execute_timeout_ms: 1_000, pre_execute_timeout_ms: 1_000 }), { p1: hostile, p2: healthy });
    try {
      await h.sup.ensureRunning(hostile);
      await h.sup.ensureRunning(healthy);
      const first = await h.sup.inspect({ pid: "p1", step_index: 1, method: "execute", image: rawImage() });
      expect(first.execute?.status).toBe("OK");
      let current = first.execute?.debug.pid;

      for (const mode of ["random-frames", "junk", "huge-header", "partial-frame"]) {
        writeFileSync(control, mode);
        const mark = h.events.length;
        const monitor = lagMonitor();
        // While the hostile worker misbehaves, the other package answers.
        const [bad, good] = await Promise.all([
          h.sup.inspect({ pid: "p1", step_index: 1, method: "execute", image: rawImage() }),
          h.sup.inspect({ pid: "p2", step_index: 1, method: "execute", image: rawImage() }),
        ]);
        expect(monitor.stop()).toBeLessThan(1_000);
        expect(good.execute?.status).toBe("OK");
        expect(bad.execute, mode).toMatchObject({ status: "ERROR", error_code: mode === "partial-frame" ? "1005" : "3002" });
        writeFileSync(control, "ok");
        await waitFor(() => h.events.slice(mark).some((e) => e.type === "worker-ready" && e.key === "fuzz@1.0"), 10_000, "a replacement worker");
        const next = await h.sup.inspect({ pid: "p1", step_index: 1, method: "execute", image: rawImage() });
        expect(next.execute, mode).toMatchObject({ status: "OK" });
        expect(next.execute?.debug.pid).not.toBe(current);
        current = next.execute?.debug.pid;
      }
      const exits = h.events.filter((e) => e.type === "worker-exit" && e.key === "fuzz@1.0");
      expect(exits.map((e) => (e as { cause: string }).cause)).toEqual(["protocol", "protocol", "protocol", "timeout"]);
      expect(h.events.some((e) => e.type === "worker-exit" && e.key === "calm@1.0")).toBe(false);
    } finally {
      await h.sup.stopAll();
    }
  }, 60_000);
});
