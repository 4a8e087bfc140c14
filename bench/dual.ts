// Dual-image inspections (issue 13, contract §5a): an execute-only (G3) package built as an offline zip, installed and
// activated through the library, driven with runner.inspect() with a 1920×1200 current image alone and with a
// 1920×1200 guide image too, calls interleaved so both see the same machine. The figure is the overhead above the
// algorithm's own time; the baseline is the single-image overhead of the same run.
// Also measured: how the runner carries the second frame. Two segments per held call (the guide in a second segment
// with its own header) against one segment of twice the size holding both frames, Node side write of both frames.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Runner } from "../src/runner/runner.js";
import { ColorSpace, Encoding } from "../src/shm/segment-format.js";
import { createSegment } from "../src/shm/segment.js";
import { fmt, stats, verdict, type Stats } from "./stats.js";
import { numpyWheel, packageZip, sdkPin, sdkWheel } from "./zip.js";

const PACKAGE = { name: "bench-dual", version: "1.0", pid: "bench-dual" };
const FRAME = { width: 1920, height: 1200 };
const FRAME_BYTES = FRAME.width * FRAME.height * 3;

interface Overhead {
  latency_ms: Stats;
  /** The algorithm's own time (touch a pixel of each image), from its debug. */
  algo_ms: Stats;
  /** inspect latency − the algorithm's own time, per call. */
  overhead_ms: Stats;
}

export interface DualBench {
  /** Node side: both frames written, into two segments vs one segment of twice the size. */
  two_segments_write_ms: Stats;
  one_segment_write_ms: Stats;
  single: Overhead;
  dual: Overhead;
}

function writeBoth(count: number): { two: Stats; one: Stats } {
  const frames = [0, 1, 2, 3].map((k) => Buffer.alloc(FRAME_BYTES, 17 + k));
  const meta = { ...FRAME, channels: 3 as const, colorSpace: ColorSpace.RGB, encoding: Encoding.raw, timestampMs: 0 };
  // Both frames in one segment: one 1920×2400 frame, the guide below the current image.
  const stacked = { ...meta, height: 2 * FRAME.height };
  const prefix = `procvision-${process.pid}-benchdual`;
  const cur = createSegment(`${prefix}-0`, FRAME_BYTES);
  const guide = createSegment(`${prefix}-1`, FRAME_BYTES);
  const both = createSegment(`${prefix}-2`, 2 * FRAME_BYTES);
  const two: number[] = [];
  const one: number[] = [];
  try {
    for (let i = 0; i < count + 10; i++) {
      const a = frames[i % 4]!;
      const b = frames[(i + 1) % 4]!;
      let t0 = performance.now();
      cur.write(a, meta);
      guide.write(b, meta);
      const twoMs = performance.now() - t0;
      t0 = performance.now();
      const target = both.payload();
      a.copy(target, 0);
      b.copy(target, FRAME_BYTES);
      both.commit(stacked, 2 * FRAME_BYTES);
      const oneMs = performance.now() - t0;
      if (i >= 10) {
        two.push(twoMs);
        one.push(oneMs);
      }
    }
  } finally {
    for (const s of [cur, guide, both]) s.close();
  }
  return { two: stats(two), one: stats(one) };
}

export async function benchDual(root: string, quick: boolean): Promise<DualBench> {
  const work = mkdtempSync(path.join(tmpdir(), "pv-bench-dual-"));
  const calls = quick ? 60 : 400;
  try {
    const written = writeBoth(quick ? 30 : 200);
    const project = path.join(work, "project");
    cpSync(path.join(root, "bench", "fixtures", "dual"), project, { recursive: true, filter: (src) => !src.includes("__pycache__") });
    const zip = await packageZip({
      projectDir: project, wheels: [sdkWheel(), numpyWheel(root)],
      requirements: `numpy==2.2.6\n${sdkPin()}\n`, outPath: path.join(work, "bench-dual-v1.0-offline.zip"),
    });
    const runner = await Runner.open({ root: path.join(work, "store"), log: () => undefined, config: { log_level: "warn" } });
    try {
      const result = await runner.install(zip);
      if (result.state !== "installed") throw new Error(`bench package install ended ${result.state}: ${JSON.stringify(result.validation.checks)}`);
      await runner.activate(PACKAGE.name, PACKAGE.version, [PACKAGE.pid]);
      const frames = [0, 1, 2, 3].map((k) => Buffer.alloc(FRAME_BYTES, 17 + k));
      const inspect = async (i: number, withGuide: boolean): Promise<{ ms: number; own: number }> => {
        const t0 = performance.now();
        const r = await runner.inspect({
          pid: PACKAGE.pid, step_index: 0, method: "execute", image: { data: frames[i % 4]!, ...FRAME },
          ...(withGuide ? { guide_image: { data: frames[(i + 1) % 4]!, ...FRAME }, step_desc: "bench", guide_info: [] } : {}),
        });
        const ms = performance.now() - t0;
        if (r.execute?.status !== "OK" || (withGuide && r.execute.data.guide_pixel === undefined)) {
          throw new Error(`bench inspect failed: ${JSON.stringify(r.execute)}`);
        }
        return { ms, own: Number(r.execute.debug.algo_ms) };
      };
      for (let i = 0; i < 20; i++) {
        await inspect(i, false);
        await inspect(i, true);
      }
      const samples = { single: [] as { ms: number; own: number }[], dual: [] as { ms: number; own: number }[] };
      // Interleaved, so drift of this shared machine hits both alike.
      for (let i = 0; i < calls; i++) {
        samples.single.push(await inspect(i, false));
        samples.dual.push(await inspect(i, true));
      }
      const overhead = (s: { ms: number; own: number }[]): Overhead => ({
        latency_ms: stats(s.map((x) => x.ms)), algo_ms: stats(s.map((x) => x.own)), overhead_ms: stats(s.map((x) => x.ms - x.own)),
      });
      return { two_segments_write_ms: written.two, one_segment_write_ms: written.one, single: overhead(samples.single), dual: overhead(samples.dual) };
    } finally {
      await runner.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function dualLines(r: DualBench): string[] {
  const ratio = r.dual.overhead_ms.p50 / r.single.overhead_ms.p50;
  const row = (label: string, o: Overhead) =>
    `| ${label} | ${fmt(o.algo_ms.p50, 3)} | ${fmt(o.latency_ms.p50, 3)} | ${fmt(o.overhead_ms.p50, 3)} | ${fmt(o.overhead_ms.p99, 3)} | ${o.latency_ms.n} |`;
  return [
    "## Dual-image inspections (G3 package, `runner.inspect`, method `execute`)",
    "",
    "An execute-only (G3) package built, installed and activated through the library; 1920×1200×3 raw frames; the",
    "algorithm touches a pixel of each numpy view the adapter made. Single- and dual-image calls interleaved, one caller.",
    "",
    "| inspection | algorithm's own time p50 ms | inspect p50 ms | overhead p50 ms (inspect − own) | overhead p99 ms | n |",
    "|---|---|---|---|---|---|",
    row("current image only (baseline)", r.single),
    row("current + guide image", r.dual),
    "",
    `Carrying the second frame, Node side write of both 6.9 MB frames p50: two segments ${fmt(r.two_segments_write_ms.p50, 3)} ms, ` +
      `one segment of twice the size ${fmt(r.one_segment_write_ms.p50, 3)} ms (the runner uses two segments: same format, same reuse, same checks).`,
    "",
    `Target dual-image overhead p50 ≤ 1.5× the single-image overhead: ${verdict(ratio <= 1.5)} (${fmt(ratio)}×: ` +
      `${fmt(r.dual.overhead_ms.p50, 3)} ms vs ${fmt(r.single.overhead_ms.p50, 3)} ms).`,
    "",
  ];
}
