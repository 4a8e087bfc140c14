// The soak: inspections with images across two packages for N minutes while workers are SIGKILLed at random and a
// zero-downtime switch happens every minute. Reports calls, failures by code, latency, runner RSS over time, and
// what is left at the end (fds, child processes, shared-memory segments). `npm run soak -- --minutes 30`.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { stats } from "../../../bench/stats.js";
import { Runner } from "../../../src/runner/runner.js";
import { EXAMPLE, exampleZip } from "../../helpers/store.js";

export interface SoakOptions {
  minutes: number;
  /** Scratch directory for the zips and the runner root. */
  work: string;
  clients?: number;
  /** Mean time between worker kills. */
  killEveryMs?: number;
  switchEveryMs?: number;
  log?: (line: string) => void;
}

export interface SoakReport {
  minutes: number;
  calls: number;
  ok: number;
  /** Calls (request errors and call results with status ERROR) by error code. */
  failures: Record<string, number>;
  latency_ms: { p50: number; p99: number; max: number };
  kills: number;
  switches: number;
  /** Runner RSS (MB) sampled over time. */
  rss_mb: { at_s: number; rss: number }[];
  end: { open_fds_growth: number; worker_processes: number; shm_segments: number };
}

const PIDS_A = ["p001", "p002"];
const PID_B = "p101";

/** Worker processes (adapters) still children of this process, from /proc (tsx's esbuild service is not one). */
function children(): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      const parent = readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1]?.split(" ")[1];
      return parent === String(process.pid) && readFileSync(`/proc/${d}/cmdline`, "utf8").includes("procvision_algorithm_sdk.adapter");
    } catch {
      return false;
    }
  }).map(Number);
}

const fds = () => readdirSync("/proc/self/fd").filter((fd) => {
  try {
    return !readlinkSync(`/proc/self/fd/${fd}`).startsWith("anon_inode:");
  } catch {
    return false;
  }
}).length;
const segments = () => readdirSync("/dev/shm").filter((f) => f.startsWith(`procvision-${process.pid}-`)).length;

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const [a1, a2, b1] = await Promise.all([
    exampleZip(o.work, { version: "1.0" }),
    exampleZip(o.work, { version: "1.1" }),
    exampleZip(o.work, { name: "board-check", version: "1.0", pids: [PID_B] }),
  ]);
  const runner = await Runner.open({
    root: path.join(o.work, "root"),
    config: { instances: 2, heartbeat_interval_ms: 1000, heartbeat_grace_ms: 500, kill_grace_ms: 500, breaker_max_crashes: 1000, queue_limit: 256 },
    log: () => undefined,
  });
  const fdsBefore = fds();
  for (const zip of [a1, a2, b1]) await runner.install(zip);
  await runner.activate("algorithm-example", "1.0", PIDS_A);
  await runner.activate("board-check", "1.0", [PID_B]);
  const { data, info } = await sharp(path.join(EXAMPLE, "sample.png")).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const image = { data, width: info.width, height: info.height, channels: 3 };

  const started = Date.now();
  const deadline = started + o.minutes * 60_000;
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let calls = 0;
  let ok = 0;
  let kills = 0;
  let switches = 0;
  const rss: SoakReport["rss_mb"] = [];
  const fail = (code: string) => {
    failures[code] = (failures[code] ?? 0) + 1;
  };

  const client = async (n: number) => {
    for (let i = 0; Date.now() < deadline; i++) {
      const pid = [...PIDS_A, PID_B][(n + i) % 3]!;
      let session: string | undefined;
      try {
        session = (await runner.createSession(pid)).session_id;
        for (const step of [1, 2]) {
          const t0 = performance.now();
          const answer = await runner.inspect({ pid, step_index: step, session_id: session, image });
          latencies.push(performance.now() - t0);
          for (const r of [answer.pre_execute, answer.execute]) {
            if (!r) continue;
            calls += 1;
            if (r.status === "OK") ok += 1;
            else fail(r.error_code ?? "ERROR");
          }
        }
      } catch (err) {
        calls += 1;
        fail((err as { code?: string }).code ?? "exception");
      } finally {
        if (session) await runner.endSession(session).catch(() => undefined);
      }
    }
  };

  const chaos = async () => {
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, (o.killEveryMs ?? 5000) * (0.5 + Math.random())));
      const workers = (await runner.status()).workers.filter((w) => w.pid !== null && (w.state === "idle" || w.state === "busy"));
      const victim = workers[Math.floor(Math.random() * workers.length)];
      if (victim?.pid && Date.now() < deadline) {
        try {
          process.kill(victim.pid, "SIGKILL");
          kills += 1;
        } catch {
          // already gone
        }
      }
    }
  };

  const switcher = async () => {
    let version = "1.0";
    while (Date.now() + (o.switchEveryMs ?? 60_000) < deadline) {
      await new Promise((r) => setTimeout(r, o.switchEveryMs ?? 60_000));
      version = version === "1.0" ? "1.1" : "1.0";
      await runner.switch("algorithm-example", version, PIDS_A);
      switches += 1;
      log(`soak: switched ${PIDS_A.join(",")} to ${version} at ${Math.round((Date.now() - started) / 1000)} s`);
    }
  };

  const sampler = async () => {
    while (Date.now() < deadline) {
      rss.push({ at_s: Math.round((Date.now() - started) / 1000), rss: Math.round(process.memoryUsage().rss / 2 ** 20) });
      await new Promise((r) => setTimeout(r, 10_000));
    }
  };

  await Promise.all([...Array.from({ length: o.clients ?? 4 }, (_, n) => client(n)), chaos(), switcher(), sampler()]);
  await runner.close();
  const latency = stats(latencies);
  const report: SoakReport = {
    minutes: o.minutes, calls, ok, failures,
    latency_ms: { p50: latency.p50, p99: latency.p99, max: Math.max(0, ...latencies) },
    kills, switches, rss_mb: rss,
    end: { open_fds_growth: fds() - fdsBefore, worker_processes: children().length, shm_segments: segments() },
  };
  return report;
}

export function soakMarkdown(r: SoakReport): string[] {
  const f = (n: number) => n.toFixed(1);
  return [
    `Soak of ${r.minutes} min: ${r.calls} calls, ${r.ok} OK; failures by code: ${Object.entries(r.failures).map(([k, v]) => `${k}: ${v}`).join(", ") || "none"}.`,
    `${r.kills} workers SIGKILLed, ${r.switches} switches. Inspection (pre_execute + execute) latency p50 ${f(r.latency_ms.p50)} ms, p99 ${f(r.latency_ms.p99)} ms, max ${f(r.latency_ms.max)} ms.`,
    `Runner RSS over time (MB): ${r.rss_mb.map((s) => `${s.at_s}s ${s.rss}`).join(", ")}.`,
    `At the end: fd growth ${r.end.open_fds_growth}, worker processes ${r.end.worker_processes}, shared-memory segments ${r.end.shm_segments}.`,
  ];
}
