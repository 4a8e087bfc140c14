import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageMeta, StepPayload } from "../src/protocol/messages.js";
import { writeFrame } from "../src/shm/frame.js";
import { nativeAvailable } from "../src/shm/native.js";
import { SegmentPool } from "../src/shm/pool.js";
import { Worker } from "../src/worker/worker.js";
import { fixture, testPython } from "./helpers/python.js";

let worker: Worker;
const pool = new SegmentPool("handofftest");

beforeAll(async () => {
  worker = await Worker.start({ python: testPython(), entryPoint: "behave:Behave", cwd: fixture("behave"), heartbeatIntervalMs: 0 });
});
afterAll(async () => {
  await worker.shutdown();
  pool.close();
});

function readCall(segmentName: string, meta: ImageMeta): StepPayload {
  return {
    step_index: 1, pid: "p001", session: { id: "s", context: {}, state: {} },
    user_params: { read_image: true }, shared_mem_id: segmentName, image_meta: meta,
  };
}

function checksum(data: Buffer): number {
  let sum = 0;
  for (const byte of data) sum += byte;
  return sum;
}

describe("image handoff through shared memory to a real worker", () => {
  it("uses the mapped backend on this machine", () => {
    expect(nativeAvailable()).toBe(true);
  });

  it("delivers a 1920×1200 RGB frame pixel-exact as a read-only zero-copy view", async () => {
    const data = randomBytes(1920 * 1200 * 3);
    const segment = pool.acquire(data.length);
    const meta = writeFrame(segment, { data, width: 1920, height: 1200, channels: 3, colorSpace: "RGB" });
    const result = await worker.call("execute", readCall(segment.name, meta));
    pool.release(segment);
    expect(result.status, result.message).toBe("OK");
    expect(result.data).toMatchObject({
      shape: [1200, 1920, 3],
      checksum: checksum(data),
      corner: [data[0], data[1], data[2]],
      writeable: false,
      owns_data: false,
    });
  });

  it("expands gray to three channels and reverses BGR to RGB", async () => {
    const segment = pool.acquire(16 * 8 * 3);
    const gray = Buffer.alloc(16 * 8, 7);
    gray[0] = 200;
    const grayMeta = writeFrame(segment, { data: gray, width: 16, height: 8, channels: 1, colorSpace: "GRAY" });
    const g = await worker.call("execute", readCall(segment.name, grayMeta));
    expect(g.data).toMatchObject({ shape: [8, 16, 3], corner: [200, 200, 200] });

    const bgr = Buffer.alloc(16 * 8 * 3, 0);
    bgr.set([1, 2, 3], 0);
    const bgrMeta = writeFrame(segment, { data: bgr, width: 16, height: 8, channels: 3, colorSpace: "BGR" });
    const b = await worker.call("execute", readCall(segment.name, bgrMeta));
    expect(b.data).toMatchObject({ corner: [3, 2, 1] });
    pool.release(segment);
  });

  it("answers a stale or mismatched frame with 1002, never a silent wrong image", async () => {
    const segment = pool.acquire(64 * 64 * 3);
    const meta = writeFrame(segment, { data: Buffer.alloc(64 * 64 * 3, 1), width: 64, height: 64, channels: 3, colorSpace: "RGB" });
    const stale = await worker.call("execute", readCall(segment.name, { ...meta, sequence: (meta.sequence ?? 1) - 1 }));
    expect(stale).toMatchObject({ status: "ERROR", error_code: "1002" });
    expect(stale.message).toMatch(/stale|sequence/i);
    const wrongSize = await worker.call("execute", readCall(segment.name, { ...meta, width: 65 }));
    expect(wrongSize).toMatchObject({ status: "ERROR", error_code: "1002" });
    const missing = await worker.call("execute", readCall("procvision-no-such-segment", meta));
    expect(missing).toMatchObject({ status: "ERROR", error_code: "1002" });
    pool.release(segment);
    // The worker keeps serving after image errors.
    const ok = await worker.call("execute", readCall(segment.name, meta));
    expect(ok.status).toBe("OK");
  });
});
