// `npm run bench`: every figure next to a baseline measured in the same run, on this machine.
// Results: bench/results/latest.json (raw) and docs/BENCHMARKS.md (summary). Targets are judged here, never in tests.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { encodeFrame, FrameDecoder } from "../src/protocol/frame-codec.js";
import type { StepPayload } from "../src/protocol/messages.js";
import { writeFrame } from "../src/shm/frame.js";
import { nativeAvailable } from "../src/shm/native.js";
import { FileSegment, MappedSegment, type Segment } from "../src/shm/segment.js";
import { Worker } from "../src/worker/worker.js";
import { benchPackage, packageLines } from "./package.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const python = path.join(root, ".cache", "test-venv", "bin", "python");
const fixtures = path.join(root, "bench", "fixtures");
const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 500 : 5000;
const FRAMES = quick ? 30 : 200;
const STARTS = quick ? 3 : 10;

interface Stats { p50: number; p99: number; mean: number; n: number }

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), mean: samples.reduce((a, b) => a + b, 0) / samples.length, n: samples.length };
}

async function rawEcho(rounds: number): Promise<Stats> {
  const child = spawn(python, [path.join(fixtures, "raw_echo.py")], { stdio: ["pipe", "pipe", "inherit"] });
  const decoder = new FrameDecoder();
  let waiting: (() => void) | undefined;
  child.stdout.on("data", (chunk: Buffer) => {
    if (decoder.push(chunk).length > 0) waiting?.();
  });
  const frame = encodeFrame({ type: "call", request_id: "r1", method: "execute", payload: smallPayload() });
  const samples: number[] = [];
  for (let i = 0; i < rounds + 200; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => { waiting = resolve; child.stdin.write(frame); });
    if (i >= 200) samples.push((performance.now() - t0) * 1000);
  }
  child.stdin.end();
  return stats(samples);
}

function smallPayload(extra: Record<string, unknown> = {}): StepPayload {
  return {
    step_index: 1, pid: "p", session: { id: "s", context: {}, state: {} }, user_params: extra,
    shared_mem_id: "none", image_meta: { width: 1, height: 1, timestamp_ms: 0, camera_id: "c" },
  };
}

async function benchWorker(): Promise<Worker> {
  return Worker.start({ python, entryPoint: "bench_algo:BenchAlgo", cwd: fixtures, heartbeatIntervalMs: 0 });
}

async function roundTrip(rounds: number): Promise<Stats> {
  const worker = await benchWorker();
  const samples: number[] = [];
  const payload = smallPayload();
  for (let i = 0; i < rounds + 200; i++) {
    const t0 = performance.now();
    await worker.call("execute", payload);
    if (i >= 200) samples.push((performance.now() - t0) * 1000);
  }
  await worker.shutdown();
  return stats(samples);
}

interface Handoff { write_ms: Stats; read_ms: Stats; total_ms: Stats }

async function handoff(make: (name: string, bytes: number) => Segment, width: number, height: number): Promise<Handoff> {
  const bytes = width * height * 3;
  const frames = [0, 1, 2, 3].map((k) => Buffer.alloc(bytes, 17 + k));
  const segment = make(`procvision-${process.pid}-bench-${width}`, bytes);
  const worker = await benchWorker();
  const writes: number[] = [];
  const reads: number[] = [];
  try {
    for (let i = 0; i < FRAMES + 10; i++) {
      const t0 = performance.now();
      const meta = writeFrame(segment, { data: frames[i % 4]!, width, height, channels: 3, colorSpace: "RGB" }, "bench");
      const writeMs = performance.now() - t0;
      const result = await worker.call("execute", { ...smallPayload({ read: true }), shared_mem_id: segment.name, image_meta: meta });
      if (result.status !== "OK") throw new Error(`bench read failed: ${result.message}`);
      if (i >= 10) {
        writes.push(writeMs);
        reads.push(Number(result.debug.read_ms));
      }
    }
  } finally {
    await worker.shutdown();
    segment.close();
  }
  return { write_ms: stats(writes), read_ms: stats(reads), total_ms: stats(writes.map((w, i) => w + (reads[i] ?? 0))) };
}

function bufferCopy(bytes: number): Stats {
  const frames = [0, 1, 2, 3].map((k) => Buffer.alloc(bytes, 17 + k));
  const target = Buffer.alloc(bytes);
  const samples: number[] = [];
  for (let i = 0; i < FRAMES + 10; i++) {
    const t0 = performance.now();
    frames[i % 4]!.copy(target);
    if (i >= 10) samples.push(performance.now() - t0);
  }
  return stats(samples);
}

async function startup(entry: string, cwd: string): Promise<Stats> {
  const samples: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const t0 = performance.now();
    const worker = await Worker.start({ python, entryPoint: entry, cwd, heartbeatIntervalMs: 0 });
    samples.push(performance.now() - t0);
    await worker.shutdown();
  }
  return stats(samples);
}

function spawnBaseline(): Stats {
  const samples: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const t0 = performance.now();
    execFileSync(python, ["-c", "import numpy"]);
    samples.push(performance.now() - t0);
  }
  return stats(samples);
}

const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  memory_gib: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  python: execFileSync(python, ["-c", "import sys; print(sys.version.split()[0])"]).toString().trim(),
  shm_backend: nativeAvailable() ? "mapped (N-API addon)" : "file (fs.writeSync)",
};
console.log("machine", machine);

const echo = await rawEcho(ROUNDS);
console.log("raw pipe echo µs", echo);
const rt = await roundTrip(ROUNDS);
console.log("worker round trip µs", rt);

const sizes = [["6.9 MB (1920×1200×3)", 1920, 1200], ["15 MB (2560×1960×3)", 2560, 1960]] as const;
const frameResults = [];
for (const [label, w, h] of sizes) {
  const copy = bufferCopy(w * h * 3);
  const mapped = nativeAvailable() ? await handoff((n, b) => MappedSegment.create(n, b), w, h) : undefined;
  const file = await handoff((n, b) => FileSegment.create(n, b), w, h);
  frameResults.push({ label, buffer_copy_ms: copy, mapped, file });
  console.log(label, { copy: copy.p50, mapped: mapped?.total_ms.p50, file: file.total_ms.p50 });
}

const start = await startup("bench_algo:BenchAlgo", fixtures);
const importBaseline = spawnBaseline();
console.log("start → ready ms", start, "baseline python -c 'import numpy'", importBaseline);

const packaged = benchPackage(root, quick);
console.log("package build", packaged);

const results = { date: new Date().toISOString(), quick, machine, round_trip_us: rt, raw_echo_us: echo, frames: frameResults,
  startup_ms: start, spawn_import_numpy_ms: importBaseline, package: packaged };
mkdirSync(path.join(root, "bench", "results"), { recursive: true });
writeFileSync(path.join(root, "bench", "results", "latest.json"), JSON.stringify(results, null, 2) + "\n");

const f = (n: number | undefined, d = 2) => (n === undefined ? "n/a" : n.toFixed(d));
const verdict = (ok: boolean) => (ok ? "met" : "**missed**");
const lines = [
  "# Benchmarks",
  "",
  `Generated by \`npm run bench\` on ${results.date.slice(0, 10)}${quick ? " (quick mode)" : ""}. Raw figures: \`bench/results/latest.json\`.`,
  "Every figure is measured in the same run as its baseline.",
  "",
  `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory_gib} GiB; Node ${machine.node}; Python ${machine.python}; shm backend: ${machine.shm_backend}.`,
  "",
  "## Small call round trip (Worker.call → adapter → algorithm → result)",
  "",
  "| | p50 µs | p99 µs | mean µs | n |",
  "|---|---|---|---|---|",
  `| raw pipe echo (baseline: same framing, Python echo without SDK) | ${f(echo.p50, 0)} | ${f(echo.p99, 0)} | ${f(echo.mean, 0)} | ${echo.n} |`,
  `| worker round trip | ${f(rt.p50, 0)} | ${f(rt.p99, 0)} | ${f(rt.mean, 0)} | ${rt.n} |`,
  "",
  `Target p50 ≤ 1.5× echo (${f(echo.p50 * 1.5, 0)} µs): ${verdict(rt.p50 <= echo.p50 * 1.5)} (${f(rt.p50 / echo.p50)}×). Target p99 ≤ 300 µs: ${verdict(rt.p99 <= 300)}.`,
  "",
  "## Frame handoff (Node write into the segment → numpy view in the worker)",
  "",
  "| frame | Buffer.copy p50 ms (baseline) | mapped write p50 | view p50 | mapped total p50 | file write p50 | file total p50 |",
  "|---|---|---|---|---|---|---|",
  ...frameResults.map((r) => `| ${r.label} | ${f(r.buffer_copy_ms.p50, 3)} | ${f(r.mapped?.write_ms.p50, 3)} | ${f(r.mapped?.read_ms.p50, 3)} | ${f(r.mapped?.total_ms.p50, 3)} | ${f(r.file.write_ms.p50, 3)} | ${f(r.file.total_ms.p50, 3)} |`),
  "",
  ...frameResults.map((r) => `Target ${r.label}: mapped total ≤ 2× Buffer.copy: ${r.mapped ? verdict(r.mapped.total_ms.p50 <= 2 * r.buffer_copy_ms.p50) + ` (${f(r.mapped.total_ms.p50 / r.buffer_copy_ms.p50)}×)` : "n/a (addon not built)"}.`),
  "",
  "## Worker start → ready (spawn, import numpy + SDK, construct, setup, handshake)",
  "",
  "| | p50 ms | p99 ms | n |",
  "|---|---|---|---|",
  `| \`python -c "import numpy"\` (baseline) | ${f(importBaseline.p50, 1)} | ${f(importBaseline.p99, 1)} | ${importBaseline.n} |`,
  `| Worker.start → ready | ${f(start.p50, 1)} | ${f(start.p99, 1)} | ${start.n} |`,
  "",
  `Target ≤ 150 ms: ${verdict(start.p50 <= 150)}.`,
  "",
  ...packageLines(packaged),
];
const notesMarker = "## Notes";
let notes = "";
try {
  const previous = readFileSync(path.join(root, "docs", "BENCHMARKS.md"), "utf8");
  const at = previous.indexOf(notesMarker);
  if (at >= 0) notes = previous.slice(at);
} catch {
  // first run
}
writeFileSync(path.join(root, "docs", "BENCHMARKS.md"), lines.join("\n") + (notes ? "\n" + notes : ""));
console.log("wrote docs/BENCHMARKS.md");
