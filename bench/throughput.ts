// Throughput of a trivial algorithm through the runner (issue 5): the package is built as an offline zip, installed and
// activated through the library, then driven with runner.inspect() — the whole product path (PID → active version,
// params check, image into the worker's segment, dispatch, result check, SQLite inspection record) — with
// `instances` 1 and 2. Baseline in the same run: bare Worker.call loops, one call in flight per worker (the ceiling of
// a runner that waits for each answer before sending the next call, without supervisor, runner or records).
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Runner, hosted } from "../src/runner/runner.js";
import { Worker } from "../src/worker/worker.js";
import { fmt, stats, verdict, type Stats } from "./stats.js";
import { smallPayload } from "./worker.js";
import { numpyWheel, packageZip, sdkPin, sdkWheel } from "./zip.js";

export const THROUGHPUT_PACKAGE = { name: "bench-throughput", version: "1.0", pid: "bench", entry: "throughput_algo:ThroughputAlgo" };
const FRAME = { width: 1920, height: 1200 };
const CONCURRENCY = 64;
const SMALL_RUNS = 3;

export interface LoadResult {
  concurrency: number;
  calls: number;
  seconds: number;
  calls_per_s: number;
  latency_ms: Stats;
  /** CPU per call, µs: this (Node) process (every thread), its main thread alone, and the workers together. */
  node_cpu_us_per_call: number;
  main_thread_cpu_us_per_call: number;
  workers_cpu_us_per_call: number;
}

export interface FrameResult extends LoadResult {
  /** The algorithm's own time (view of the frame + touch a pixel), from its debug. */
  algo_ms: Stats;
  /** Per call: inspect latency − the algorithm's own time. */
  overhead_ms: Stats;
}

export interface InstancesResult {
  instances: number;
  /** Bare Worker.call loops, one in flight per worker (baseline). */
  bare_workers: LoadResult;
  small_single: LoadResult;
  /** The median of SMALL_RUNS runs by calls/s (this VM's speed drifts by ±20 % from run to run). */
  small_concurrent: LoadResult;
  small_concurrent_runs: number[];
  frames_single: FrameResult;
  frames_concurrent: FrameResult;
}

export interface ThroughputBench {
  record_insert_us: number;
  results: InstancesResult[];
}

/** utime + stime of a process (or of one thread: `self/task/<tid>`), in µs (clock ticks of 10 ms). */
export function processCpuUs(pid: number | string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return 0;
  }
}

const nodeCpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
/** The main thread's CPU: the event loop that answers inspections (Node 20 has no per-thread cpuUsage). */
const mainThreadCpuUs = (): number => processCpuUs(`self/task/${process.pid}`);

/** `concurrency` callers in closed loops until `total` calls are done; latency per call (also the telemetry section's load). */
export async function load<T>(total: number, concurrency: number, workerPids: number[], call: (i: number) => Promise<T>, onResult?: (r: T, ms: number) => void): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  const cpu0 = nodeCpuUs();
  const main0 = mainThreadCpuUs();
  const wcpu0 = workerPids.reduce((s, p) => s + processCpuUs(p), 0);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++;
      const s = performance.now();
      const r = await call(i);
      const ms = performance.now() - s;
      latencies.push(ms);
      onResult?.(r, ms);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const nodeCpu = nodeCpuUs() - cpu0;
  const mainCpu = mainThreadCpuUs() - main0;
  const workersCpu = workerPids.reduce((s, p) => s + processCpuUs(p), 0) - wcpu0;
  return {
    concurrency, calls: total, seconds, calls_per_s: total / seconds, latency_ms: stats(latencies),
    node_cpu_us_per_call: nodeCpu / total, main_thread_cpu_us_per_call: mainCpu / total, workers_cpu_us_per_call: workersCpu / total,
  };
}

async function bareWorkers(instances: number, python: string, dir: string, total: number): Promise<LoadResult> {
  const workers = await Promise.all(Array.from({ length: instances }, () => Worker.start({ python, entryPoint: THROUGHPUT_PACKAGE.entry, cwd: dir, heartbeatIntervalMs: 0 })));
  try {
    const payload = { ...smallPayload(), pid: THROUGHPUT_PACKAGE.pid };
    for (const w of workers) for (let i = 0; i < 300; i++) await w.call("execute", payload);
    // One closed loop per worker: the pool's one-call-per-worker rule without the pool.
    let next = 0;
    const latencies: number[] = [];
    const pids = workers.map((w) => w.pid ?? 0);
    const cpu0 = nodeCpuUs();
    const main0 = mainThreadCpuUs();
    const wcpu0 = pids.reduce((s, p) => s + processCpuUs(p), 0);
    const t0 = performance.now();
    await Promise.all(workers.map(async (w) => {
      while (next < total) {
        next++;
        const s = performance.now();
        const r = await w.call("execute", payload);
        latencies.push(performance.now() - s);
        if (r.status !== "OK") throw new Error(`bare worker call: ${r.message}`);
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    return {
      concurrency: instances, calls: total, seconds, calls_per_s: total / seconds, latency_ms: stats(latencies),
      node_cpu_us_per_call: (nodeCpuUs() - cpu0) / total, main_thread_cpu_us_per_call: (mainThreadCpuUs() - main0) / total, workers_cpu_us_per_call: (pids.reduce((s, p) => s + processCpuUs(p), 0) - wcpu0) / total,
    };
  } finally {
    await Promise.all(workers.map((w) => w.shutdown()));
  }
}

/** Builds, installs and activates the bench package in a fresh store; returns the store root (runner closed). */
export async function prepareThroughputStore(root: string, work: string): Promise<string> {
  const project = path.join(work, "project");
  cpSync(path.join(root, "bench", "fixtures", "throughput"), project, { recursive: true, filter: (src) => !src.includes("__pycache__") });
  const requirements = `numpy==2.2.6\n${sdkPin()}\n`;
  const zip = await packageZip({ projectDir: project, wheels: [sdkWheel(), numpyWheel(root)], requirements, outPath: path.join(work, "bench-throughput-v1.0-offline.zip") });
  const storeRoot = path.join(work, "store");
  const runner = await Runner.open({ root: storeRoot, log: () => undefined, config: { log_level: "warn" } });
  try {
    const result = await runner.install(zip);
    if (result.state !== "installed") throw new Error(`bench package install ended ${result.state}: ${JSON.stringify(result.validation.checks)}`);
    await runner.activate(THROUGHPUT_PACKAGE.name, THROUGHPUT_PACKAGE.version, [THROUGHPUT_PACKAGE.pid]);
  } finally {
    await runner.close();
  }
  return storeRoot;
}

export async function benchThroughput(root: string, quick: boolean): Promise<ThroughputBench> {
  const work = mkdtempSync(path.join(tmpdir(), "pv-bench-throughput-"));
  const smallCalls = quick ? 4000 : 40_000;
  const singleCalls = quick ? 1000 : 5000;
  const frameCalls = quick ? 60 : 400;
  const frames = [0, 1, 2, 3].map((k) => Buffer.alloc(FRAME.width * FRAME.height * 3, 17 + k));
  const tiny = Buffer.from([1, 2, 3]);
  try {
    const storeRoot = await prepareThroughputStore(root, work);
    const results: InstancesResult[] = [];
    let recordInsertUs = NaN;
    for (const instances of [1, 2]) {
      const runner = await Runner.open({ root: storeRoot, log: () => undefined, config: { instances, log_level: "warn" } });
      try {
        const status = await runner.status();
        const pids = status.workers.map((w) => w.pid).filter((p): p is number => p !== null);
        if (pids.length !== instances) throw new Error(`expected ${instances} running workers, status says ${JSON.stringify(status.workers)}`);
        const small = () => runner.inspect({ pid: THROUGHPUT_PACKAGE.pid, step_index: 1, method: "execute", image: { data: tiny, width: 1, height: 1 } });
        const frame = (i: number) => runner.inspect({ pid: THROUGHPUT_PACKAGE.pid, step_index: 2, method: "execute", image: { data: frames[i % 4]!, ...FRAME } });
        const check = (r: Awaited<ReturnType<typeof small>>) => {
          if (r.execute?.status !== "OK") throw new Error(`bench inspect failed: ${JSON.stringify(r.execute)}`);
        };
        for (let i = 0; i < 1000; i++) check(await small());
        for (let i = 0; i < 20; i++) check(await frame(i));

        const small_single = await load(singleCalls, 1, pids, small, check);
        const runs: LoadResult[] = [];
        for (let i = 0; i < SMALL_RUNS; i++) runs.push(await load(smallCalls, CONCURRENCY, pids, small, check));
        runs.sort((a, b) => a.calls_per_s - b.calls_per_s);
        const small_concurrent = runs[Math.floor(runs.length / 2)]!;
        const frameRun = async (concurrency: number): Promise<FrameResult> => {
          const algo: number[] = [];
          const overhead: number[] = [];
          const r = await load(frameCalls, concurrency, pids, frame, (res, ms) => {
            check(res);
            const own = Number(res.execute?.debug.algo_ms);
            algo.push(own);
            overhead.push(ms - own);
          });
          return { ...r, algo_ms: stats(algo), overhead_ms: stats(overhead) };
        };
        const frames_single = await frameRun(1);
        const frames_concurrent = await frameRun(instances);

        if (instances === 1) {
          // What one inspection record costs (the runner writes one per answered call, synchronously).
          const n = 2000;
          const t0 = performance.now();
          for (let i = 0; i < n; i++) {
            runner.repository.addRecord({
              time: new Date().toISOString(), pid: "bench-probe", session_id: "s", step_index: 1, method: "execute", name: "probe", version: "0",
              status: "OK", error_code: null, result_status: "OK", ng_reason: null, defect_count: 0, position_count: 0, calibration_count: 0, latency_ms: 0.1,
            });
          }
          recordInsertUs = ((performance.now() - t0) * 1000) / n;
        }
        const pkg = runner.repository.getPackage(THROUGHPUT_PACKAGE.name, THROUGHPUT_PACKAGE.version)!;
        await runner.close();
        const spec = hosted(pkg);
        const bare_workers = await bareWorkers(instances, spec.python, spec.dir, smallCalls);
        results.push({ instances, bare_workers, small_single, small_concurrent, small_concurrent_runs: runs.map((r) => r.calls_per_s), frames_single, frames_concurrent });
      } finally {
        await runner.close();
      }
    }
    return { record_insert_us: recordInsertUs, results };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function throughputLines(r: ThroughputBench): string[] {
  const row = (label: string, x: LoadResult) =>
    `| ${label} | ${x.concurrency} | ${fmt(x.calls_per_s, 0)} | ${fmt(x.latency_ms.p50, 3)} | ${fmt(x.latency_ms.p99, 3)} | ${fmt(x.node_cpu_us_per_call, 0)} | ${fmt(x.workers_cpu_us_per_call, 0)} | ${x.calls} |`;
  const two = r.results.find((x) => x.instances === 2);
  const lines = [
    "## Throughput through the runner (trivial algorithm, `runner.inspect`, method `execute`)",
    "",
    "Package built, installed and activated through the library; every call takes the product path (PID → version, params",
    "check, image into the worker's segment, dispatch, result check, one SQLite inspection record). \"Small\" calls carry a",
    `1×1 frame (inspect always has an image); frames are 1920×1200×3 raw, and the algorithm takes a numpy view and reads a`,
    `pixel. Closed-loop callers ("in flight"); while calls are short the runner sends up to 16 to a worker behind the`,
    `running one (pipelining). CPU columns are CPU time per call of this Node process and of all workers together.`,
    "",
    "| instances | call | in flight | calls/s | p50 ms | p99 ms | Node CPU µs/call | workers CPU µs/call | n |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const x of r.results) {
    const rowI = (label: string, l: LoadResult) => row(`${x.instances} | ${label}`, l);
    lines.push(
      rowI("bare `Worker.call` loop per worker, one call in flight (baseline: no runner, no pipelining)", x.bare_workers),
      rowI("small, one caller", x.small_single),
      rowI(`small, many callers (median of ${x.small_concurrent_runs.length} runs)`, x.small_concurrent),
      rowI("1920×1200 frame, one caller", x.frames_single),
      rowI("1920×1200 frame, one caller per worker", x.frames_concurrent),
    );
  }
  lines.push("", "| instances | frame calls | algorithm's own time p50 ms | inspect p50 ms | overhead p50 ms (inspect − own, per call) | overhead p99 ms |", "|---|---|---|---|---|---|");
  for (const x of r.results) {
    for (const [label, fr] of [["one caller", x.frames_single], ["one caller per worker", x.frames_concurrent]] as const) {
      lines.push(`| ${x.instances} | ${label} | ${fmt(fr.algo_ms.p50, 3)} | ${fmt(fr.latency_ms.p50, 3)} | ${fmt(fr.overhead_ms.p50, 3)} | ${fmt(fr.overhead_ms.p99, 3)} |`);
    }
  }
  const worstOverhead = Math.max(...r.results.map((x) => x.frames_single.overhead_ms.p50));
  lines.push(
    "",
    `One SQLite inspection record (\`repository.addRecord\`, measured alone): ${fmt(r.record_insert_us, 1)} µs.`,
    "",
    two
      ? `Target ≥ 20k calls/s without images on 2 workers: ${verdict(two.small_concurrent.calls_per_s >= 20_000)} (median ${fmt(two.small_concurrent.calls_per_s, 0)} calls/s, ` +
        `${fmt(two.small_concurrent.calls_per_s / 20_000)}× the target; runs: ${two.small_concurrent_runs.map((c) => fmt(c, 0)).join(", ")}; ` +
        `bare workers one call at a time: ${fmt(two.bare_workers.calls_per_s, 0)} calls/s).`
      : "Target ≥ 20k calls/s: n/a (no 2-worker run).",
    `Target frame inspections p50 ≤ 2 ms above the algorithm's own time: ${verdict(worstOverhead <= 2)} (worst p50 overhead, one caller: ${fmt(worstOverhead, 3)} ms).`,
    "",
  );
  return lines;
}
