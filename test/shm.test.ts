import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  CAPACITY_STEP,
  MIN_CAPACITY,
  roundCapacity,
  ColorSpace,
  Encoding,
  FileSegment,
  type FrameMeta,
  HEADER_SIZE,
  HeaderOffset,
  MappedSegment,
  type Segment,
  SegmentPool,
  SegmentState,
  createSegment,
  encodeHeader,
  nativeAddon,
  nativeAvailable,
  nativeLoadError,
  payloadSize,
  readHeader,
  sweepStaleSegments,
} from "../src/shm/index.js";

const SHM = "/dev/shm";
const W = 1920;
const H = 1200;
const FRAME = payloadSize(W, H, 3);
const meta: FrameMeta = {
  width: W,
  height: H,
  channels: 3,
  colorSpace: ColorSpace.BGR,
  encoding: Encoding.raw,
  timestampMs: 1_764_108_000_123,
};

let counter = 0;
const opened: Segment[] = [];
const pools: SegmentPool[] = [];

// Test segments are not named procvision-<pid>-… so a concurrent sweep never touches them.
function uniqueName(): string {
  return `pvtest-${process.pid}-${++counter}`;
}

function track<T extends Segment>(segment: T): T {
  opened.push(segment);
  return segment;
}

function pixels(bytes: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) buf[i] = (i * 31 + seed) & 0xff;
  return buf;
}

afterEach(() => {
  for (const segment of opened.splice(0)) segment.close();
  for (const pool of pools.splice(0)) pool.close();
  vi.unstubAllEnvs();
});

describe("segment format", () => {
  it("round-trips every header field, including u64 values above 2^32", () => {
    const fields = {
      sequence: 2 ** 40 + 7,
      payloadLength: FRAME,
      width: W,
      height: H,
      channels: 3,
      encoding: Encoding.png,
      colorSpace: ColorSpace.GRAY,
      state: SegmentState.ready,
      timestampMs: 1_764_108_000_123,
      capacity: 2 ** 33 + 5,
    };
    const buf = encodeHeader(fields);
    expect(buf.byteLength).toBe(HEADER_SIZE);
    expect(buf.subarray(0, 4).toString("latin1")).toBe("PVIS");
    expect(buf.readUInt16LE(4)).toBe(1);
    expect(buf.readUInt16LE(6)).toBe(64);
    expect(buf.readBigUInt64LE(8)).toBe(BigInt(fields.sequence));
    expect(buf.readBigUInt64LE(48)).toBe(BigInt(fields.capacity));
    expect(buf[35]).toBe(1);
    expect(readHeader(buf)).toEqual({ magic: "PVIS", layoutVersion: 1, headerSize: 64, ...fields });
  });

  it("names enum members after the contract's image_meta strings", () => {
    expect(Encoding[Encoding.jpeg]).toBe("jpeg");
    expect(ColorSpace["BGR"]).toBe(1);
  });
});

describe.each([
  ["mapped", (name: string, capacity: number) => MappedSegment.create(name, capacity)],
  ["file", (name: string, capacity: number) => FileSegment.create(name, capacity, SHM)],
] as const)("%s segment", (backend, create) => {
  it("writes a 1920×1200×3 frame that the raw /dev/shm file shows pixel-exact", () => {
    const name = uniqueName();
    const segment = track(create(name, FRAME + 1000));
    expect(segment.backend).toBe(backend);
    const frame = pixels(FRAME, 5);
    expect(segment.write(frame, meta)).toEqual({ sequence: 1 });

    const file = readFileSync(join(SHM, name));
    expect(file.byteLength).toBe(HEADER_SIZE + FRAME + 1000);
    expect(readHeader(file)).toEqual({
      magic: "PVIS",
      layoutVersion: 1,
      headerSize: 64,
      sequence: 1,
      payloadLength: FRAME,
      width: W,
      height: H,
      channels: 3,
      encoding: Encoding.raw,
      colorSpace: ColorSpace.BGR,
      state: SegmentState.ready,
      timestampMs: meta.timestampMs,
      capacity: FRAME + 1000,
    });
    expect(file.subarray(HEADER_SIZE, HEADER_SIZE + FRAME).equals(frame)).toBe(true);
  });

  it("starts empty (sequence 0, not ready) and increments the sequence per frame", () => {
    const name = uniqueName();
    const segment = track(create(name, 4096));
    const header = () => readHeader(readFileSync(join(SHM, name)));
    expect(header()).toMatchObject({ magic: "PVIS", sequence: 0, state: SegmentState.writing, capacity: 4096 });
    const small = { ...meta, width: 4, height: 2 };
    for (const expected of [1, 2, 3]) {
      expect(segment.write(pixels(24, expected), small).sequence).toBe(expected);
      expect(header()).toMatchObject({ sequence: expected, state: SegmentState.ready, width: 4, height: 2 });
    }
    expect(segment.sequence).toBe(3);
  });

  it("rejects a frame bigger than its capacity, and a raw frame whose size does not match its meta", () => {
    const segment = track(create(uniqueName(), 100));
    expect(() => segment.write(pixels(192, 0), { ...meta, width: 8, height: 8 })).toThrow(
      /frame of 192 bytes does not fit segment .* \(capacity 100 bytes\)/,
    );
    expect(() => segment.write(pixels(10, 0), { ...meta, width: 2, height: 2 })).toThrow(/needs 12 bytes, got 10/);
    expect(segment.sequence).toBe(0);
  });

  it("publishes a payload filled in place via payload() + commit()", () => {
    const name = uniqueName();
    const segment = track(create(name, 4096));
    expect(() => segment.commit(meta)).toThrow(/without payload\(\)/);

    const target = segment.payload();
    expect(target.byteLength).toBe(4096);
    expect(readFileSync(join(SHM, name))[HeaderOffset.state]).toBe(SegmentState.writing);
    const jpeg = pixels(777, 9);
    jpeg.copy(target);
    expect(segment.commit({ ...meta, encoding: Encoding.jpeg, width: 640, height: 480 }, jpeg.byteLength)).toEqual({
      sequence: 1,
    });

    const file = readFileSync(join(SHM, name));
    expect(readHeader(file)).toMatchObject({ state: SegmentState.ready, payloadLength: 777, encoding: Encoding.jpeg });
    expect(file.subarray(HEADER_SIZE, HEADER_SIZE + 777).equals(jpeg)).toBe(true);
  });

  it("close() unlinks the segment, refuses further writes and is idempotent", () => {
    const name = uniqueName();
    const segment = create(name, 4096);
    expect(existsSync(join(SHM, name))).toBe(true);
    segment.close();
    expect(existsSync(join(SHM, name))).toBe(false);
    expect(segment.closed).toBe(true);
    expect(() => segment.close()).not.toThrow();
    expect(() => segment.write(pixels(12, 0), { ...meta, width: 2, height: 2 })).toThrow(/closed/);
  });
});

describe("native addon", () => {
  it("is built on this machine (install runs node-gyp) and is what createSegment uses", () => {
    expect(nativeLoadError()).toBeUndefined();
    expect(nativeAvailable()).toBe(true);
    expect(track(createSegment(uniqueName(), 4096)).backend).toBe("mapped");
  });

  it("detaches every view on unmap, so no Buffer can reach the freed mapping", () => {
    const addon = nativeAddon();
    if (addon === undefined) throw new Error("addon not built");
    const name = uniqueName();
    const mapping = addon.open(name, 8192, true);
    const view = Buffer.from(mapping);
    view.write("hello");
    expect(readFileSync(join(SHM, name)).subarray(0, 5).toString()).toBe("hello");
    expect(addon.unmap(mapping)).toBe(true);
    expect(view.length).toBe(0);
    expect(mapping.byteLength).toBe(0);
    expect(addon.unmap(mapping)).toBe(false);
    expect(addon.unlink(name)).toBe(true);
    expect(addon.unlink(name)).toBe(false);
    expect(() => addon.open(name, 8192, false)).toThrow(/shm_open\(\/pvtest-.*\): No such file or directory/);
    expect(() => addon.unmap(new ArrayBuffer(8))).toThrow(/returned by open/);
  });

  it("detaches the payload() buffer of a mapped segment when it closes", () => {
    const segment = MappedSegment.create(uniqueName(), 4096);
    const target = segment.payload();
    segment.close();
    expect(target.length).toBe(0);
  });
});

describe("PROC_SHM_DIR", () => {
  it("switches createSegment to files in that directory", () => {
    const dir = mkdtempSync(join(tmpdir(), "pv-shm-"));
    try {
      vi.stubEnv("PROC_SHM_DIR", dir);
      const name = uniqueName();
      const segment = track(createSegment(name, 64));
      expect(segment.backend).toBe("file");
      segment.write(pixels(12, 1), { ...meta, width: 2, height: 2 });
      expect(readHeader(readFileSync(join(dir, name)))).toMatchObject({ sequence: 1, payloadLength: 12 });
    } finally {
      for (const segment of opened.splice(0)) segment.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("segment pool", () => {
  it("sizes small frames by powers of two and big ones by CAPACITY_STEP", () => {
    expect([1, MIN_CAPACITY, MIN_CAPACITY + 1, 1_000_000, CAPACITY_STEP].map(roundCapacity))
      .toEqual([MIN_CAPACITY, MIN_CAPACITY, 2 * MIN_CAPACITY, 1 << 20, CAPACITY_STEP]);
    expect(roundCapacity(CAPACITY_STEP + 1)).toBe(2 * CAPACITY_STEP);
    expect(roundCapacity(1920 * 1200 * 3)).toBe(2 * CAPACITY_STEP);
  });

  it("names segments per pid/worker/slot, grows by re-creating, and keeps the sequence going", () => {
    const pool = new SegmentPool("w7");
    pools.push(pool);
    const first = pool.acquire(1000);
    expect(first.name).toBe(`procvision-${process.pid}-w7-0`);
    expect(first.capacity).toBe(MIN_CAPACITY);
    first.write(pixels(12, 0), { ...meta, width: 2, height: 2 });
    pool.release(first);
    expect(pool.acquire(500)).toBe(first);
    pool.release(first);

    const grown = pool.acquire(FRAME + CAPACITY_STEP);
    expect(grown).not.toBe(first);
    expect(first.closed).toBe(true);
    expect(grown.name).toBe(first.name);
    expect(grown.capacity).toBe(3 * CAPACITY_STEP);
    expect(statSync(join(SHM, grown.name)).size).toBe(HEADER_SIZE + 3 * CAPACITY_STEP);
    expect(grown.write(pixels(FRAME, 2), meta).sequence).toBe(2);

    const second = pool.acquire(10);
    expect(second.name).toBe(`procvision-${process.pid}-w7-1`);
    expect(() => pool.acquire(10)).toThrow(/all 2 segments of worker w7 are busy/);

    pool.close();
    expect(existsSync(join(SHM, grown.name))).toBe(false);
    expect(existsSync(join(SHM, second.name))).toBe(false);
    expect(() => pool.close()).not.toThrow();
    expect(() => pool.acquire(10)).toThrow(/closed/);
  });
});

describe("sweepStaleSegments", () => {
  it("removes segments of dead runners and keeps live ones", async () => {
    const child = spawn(process.execPath, ["-e", ""]);
    const deadPid = child.pid;
    if (deadPid === undefined) throw new Error("spawn failed");
    await new Promise((resolve) => child.once("exit", resolve));

    const stale = `procvision-${deadPid}-w0-0`;
    const foreignLive = `procvision-1-sweeptest-${process.pid}`; // pid 1 is always alive
    writeFileSync(join(SHM, stale), "x");
    writeFileSync(join(SHM, foreignLive), "x");
    const pool = new SegmentPool("sweep");
    pools.push(pool);
    const ours = pool.acquire(10);
    try {
      const removed = sweepStaleSegments();
      expect(removed).toContain(stale);
      expect(removed).not.toContain(ours.name);
      expect(removed).not.toContain(foreignLive);
      expect(existsSync(join(SHM, stale))).toBe(false);
      expect(existsSync(join(SHM, ours.name))).toBe(true);
      expect(existsSync(join(SHM, foreignLive))).toBe(true);
    } finally {
      rmSync(join(SHM, stale), { force: true });
      rmSync(join(SHM, foreignLive), { force: true });
    }
  });
});
