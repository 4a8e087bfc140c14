import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { alive, childPids, fastConfig, fastTuning, makePackage, makeSupervisor, nextEvent, ownSegments, rawImage, stopAfterEach } from "./helpers.js";

const track = stopAfterEach();

describe("Supervisor inspections with real workers", () => {
  it("writes pixels in place through a fill callback into the worker's segment, and reports a failing fill as that call's 1002", async () => {
    const pkg = makePackage();
    const h = track(makeSupervisor(fastConfig(), { p001: pkg.spec }));
    await h.sup.ensureRunning(pkg.spec);
    const source = rawImage(10, 4);
    const sizes: number[] = [];
    const fill = (target: Buffer) => {
      sizes.push(target.length);
      source.data.forEach((v, i) => (target[i] = v));
    };
    const res = await h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image: { fill, width: 10, height: 4 } });
    expect(res.execute?.data).toMatchObject({ shape: [4, 10, 3], checksum: [...source.data].reduce((a, b) => a + b, 0) });
    expect(sizes).toEqual([10 * 4 * 3]);
    // The frame is written when the call is dispatched: a failing fill is that call's 1002, not the request's.
    const failed = await h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image: { fill: () => { throw new Error("camera unplugged"); }, width: 10, height: 4 } });
    expect(failed.execute).toMatchObject({ status: "ERROR", error_code: "1002", message: expect.stringMatching(/camera unplugged/) as unknown });
    const png = await h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image: { fill, width: 10, height: 4, channels: 3 } });
    expect(png.execute?.status).toBe("OK");
  });

  it("runs pre_execute then execute in one session, image through shared memory, defaults filled, recorded", async () => {
    const pkg = makePackage();
    const h = track(makeSupervisor(fastConfig(), { p001: pkg.spec }));
    await h.sup.ensureRunning(pkg.spec);
    const image = rawImage(8, 6);
    const res = await h.sup.inspect({ pid: "p001", step_index: 1, user_params: { token: "t1" }, image });
    expect(res).toMatchObject({ name: "sup-algo", version: "1.0" });
    expect(res.pre_execute).toMatchObject({ status: "OK", message: "ready", error_code: null });
    expect(res.execute).toMatchObject({ status: "OK", data: { result_status: "OK", token: "t1", pre_calls: 1, shape: [6, 8, 3] } });
    expect(res.execute?.data.checksum).toBe([...image.data].reduce((a, b) => a + b, 0));
    expect(res.execute?.data.params).toEqual({ token: "t1", threshold: 0.5, mode: "fast" });
    expect(res.execute?.latency_ms).toBeGreaterThan(0);
    // without session_id a one-call session is made and ended
    expect(() => h.sup.sessions.get(res.session_id)).toThrow(expect.objectContaining({ code: "3006" }));
    expect(h.records.map((r) => [r.method, r.status, r.result_status, r.step_index, r.version])).toEqual([
      ["pre_execute", "OK", null, 1, "1.0"], ["execute", "OK", "OK", 1, "1.0"],
    ]);
    expect(h.records[0]?.calibration_rects).toBe(1);
    const metrics = h.sup.metrics();
    expect(metrics.pools[0]?.calls).toEqual(expect.arrayContaining([{ method: "execute", status: "OK", error_code: "", count: 1 }]));
    expect(metrics.shm_bytes).toBeGreaterThan(0);
    const status = h.sup.status()[0];
    expect(status).toMatchObject({ key: "sup-algo@1.0", state: "running", circuit: "closed", queue_depth: 0 });
    expect(status?.workers[0]).toMatchObject({ slot: 0, state: "idle", restarts: 0, calls: 2 });
  });

  it("decodes JPEG/PNG input to raw pixels", async () => {
    const pkg = makePackage();
    const h = track(makeSupervisor(fastConfig(), { p001: pkg.spec }));
    await h.sup.ensureRunning(pkg.spec);
    const raw = rawImage(10, 4);
    const png = await sharp(raw.data, { raw: { width: 10, height: 4, channels: 3 } }).png().toBuffer();
    const res = await h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image: { bytes: png } });
    expect(res.pre_execute).toBeUndefined();
    expect(res.execute?.data).toMatchObject({ shape: [4, 10, 3], checksum: [...raw.data].reduce((a, b) => a + b, 0) });
  });

  it("writes PNG frames into the segment when image_encoding is png (the SDK decodes them)", async () => {
    const pkg = makePackage();
    const h = track(makeSupervisor(fastConfig({ image_encoding: "png" }), { p001: pkg.spec }));
    await h.sup.ensureRunning(pkg.spec);
    const raw = rawImage(12, 5);
    const res = await h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image: raw });
    expect(res.execute?.data).toMatchObject({ shape: [5, 12, 3], checksum: [...raw.data].reduce((a, b) => a + b, 0) });
  });

  it("rejects bad requests before any call: 1006 naming the param, 3004, 3006, 1002", async () => {
    const pkg = makePackage();
    const h = track(makeSupervisor(fastConfig(), { p001: pkg.spec }));
    await h.sup.ensureRunning(pkg.spec);
    const image = rawImage();
    await expect(h.sup.inspect({ pid: "p001", step_index: 1, user_params: { threshold: 5 }, image }))
      .rejects.toMatchObject({ code: "1006", message: expect.stringContaining("threshold") });
    await expect(h.sup.inspect({ pid: "p001", step_index: 2, user_params: {}, image }))
      .rejects.toMatchObject({ code: "1006", message: expect.stringContaining("roi") });
    await expect(h.sup.inspect({ pid: "p001", step_index: 9, image })).rejects.toMatchObject({ code: "1006", message: expect.stringContaining("step_index") });
    await expect(h.sup.inspect({ pid: "p999", step_index: 1, image })).rejects.toMatchObject({ code: "3004" });
    await expect(h.sup.inspect({ pid: "p001", step_index: 1, session_id: "nope", image })).rejects.toMatchObject({ code: "3006" });
    await expect(h.sup.inspect({ pid: "p001", step_index: 1, image: { data: Buffer.alloc(5), width: 8, height: 6 } })).rejects.toMatchObject({ code: "1002" });
    expect(h.records).toEqual([]);
  });

  it("turns 21 defect rects, a rect outside the image and NG without reason into 1007", async () => {
    const pkg = makePackage({ defects: 21 });
    const h = track(makeSupervisor(fastConfig(), { p001: pkg.spec }));
    await h.sup.ensureRunning(pkg.spec);
    const image = rawImage();
    const many = await h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image });
    expect(many.execute).toMatchObject({ status: "ERROR", error_code: "1007", message: expect.stringContaining("21 defect rects") });
    pkg.setControl({ rect_outside: true });
    const outside = await h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image });
    expect(outside.execute).toMatchObject({ status: "ERROR", error_code: "1007", message: expect.stringContaining("leaves the 8×6 image") });
    pkg.setControl({ ng_without_reason: true });
    const noReason = await h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image });
    expect(noReason.execute).toMatchObject({ status: "ERROR", error_code: "1007" });
    expect(h.records.map((r) => r.error_code)).toEqual(["1007", "1007", "1007"]);
  });

  it("keeps session state across a worker crash between pre_execute and execute", async () => {
    const pkg = makePackage();
    const h = track(makeSupervisor(fastConfig(), { p001: pkg.spec }));
    await h.sup.ensureRunning(pkg.spec);
    const session = h.sup.createSession("p001", { line: "A" });
    const image = rawImage();
    const pre = await h.sup.inspect({ pid: "p001", step_index: 1, session_id: session.id, method: "pre_execute", user_params: { token: "keep-me" }, image });
    expect(pre.pre_execute?.status).toBe("OK");
    const oldPid = h.sup.status()[0]?.workers[0]?.pid ?? -1;
    const replaced = nextEvent(h.sup, "worker-ready", (e) => e.pid !== oldPid);
    process.kill(oldPid, "SIGKILL");
    await replaced;
    const exec = await h.sup.inspect({ pid: "p001", step_index: 1, session_id: session.id, method: "execute", image });
    expect(exec.execute).toMatchObject({ status: "OK", data: { token: "keep-me", pre_calls: 1 } });
    expect(exec.execute?.data.worker_pid).not.toBe(oldPid);
    expect(h.sup.sessions.get(session.id).state).toMatchObject({ token: "keep-me" });
    await expect(h.sup.inspect({ pid: "p002", step_index: 1, session_id: session.id, image })).rejects.toMatchObject({ code: "1001" });
    const reset = await h.sup.resetSession(session.id);
    expect(reset.state).toEqual({});
    h.sup.endSession(session.id);
    expect(h.sup.inUse(pkg.spec)).toBe(false);
  });

  it("answers 3005 when queue_limit calls are waiting, counting those a worker holds behind its running call", async () => {
    const pkg = makePackage();
    // Pipelining forced on (every call counts as short), so the waiting calls sit in the worker's stdin.
    const h = track(makeSupervisor(fastConfig({ queue_limit: 2 }), { p001: pkg.spec }, { tuning: { ...fastTuning, pipelineMaxCallMs: 60_000 } }));
    await h.sup.ensureRunning(pkg.spec);
    const image = rawImage();
    expect((await h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image })).execute?.status).toBe("OK");
    const slow = h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", user_params: { sleep_s: 1 }, image });
    const queued = [1, 2].map(() => h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image }));
    // The request is checked asynchronously (image preparation), so let the three reach the pool first.
    await new Promise((r) => setImmediate(r));
    expect(h.sup.status()[0]?.workers[0]?.inflight).toBe(3);
    await expect(h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image })).rejects.toMatchObject({ code: "3005" });
    const results = await Promise.all([slow, ...queued]);
    expect(results.map((r) => r.execute?.status)).toEqual(["OK", "OK", "OK"]);
  });

  it("stopAll shuts workers down gracefully (teardown runs) and leaves no processes and no segments", async () => {
    const a = makePackage({}, "1.0");
    const b = makePackage({}, "2.0");
    const h = track(makeSupervisor(fastConfig({ instances: 2 }), { p001: a.spec, p002: b.spec }));
    await Promise.all([h.sup.ensureRunning(a.spec), h.sup.ensureRunning(b.spec)]);
    const image = rawImage(64, 48);
    await Promise.all([1, 2, 3, 4].map((i) => h.sup.inspect({ pid: i % 2 ? "p001" : "p002", step_index: 1, image })));
    const pids = h.sup.status().flatMap((p) => p.workers.map((w) => w.pid ?? -1));
    expect(pids).toHaveLength(4);
    expect(ownSegments().length).toBeGreaterThan(0);
    await h.sup.stopAll();
    expect(pids.filter(alive)).toEqual([]);
    expect(childPids()).toEqual([]);
    expect(ownSegments()).toEqual([]);
    for (const [dir, pid] of [[a.dir, pids[0]], [a.dir, pids[1]], [b.dir, pids[2]], [b.dir, pids[3]]] as const) {
      expect(existsSync(path.join(dir, `teardown.${pid}`))).toBe(true);
    }
    expect(readFileSync(path.join(a.dir, "logs", "worker.log"), "utf8")).toContain("setup done");
  });
});
