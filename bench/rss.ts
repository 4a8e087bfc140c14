// Idle RSS of `procvision-runner serve` (issue 5) with one active package, after it settles, read from
// /proc/<pid>/status; baseline in the same run: an idle bare `node` process.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fmt, verdict } from "./stats.js";
import { prepareThroughputStore } from "./throughput.js";

export interface Memory { vm_rss_mb: number; rss_anon_mb: number; rss_file_mb: number }

export interface RssBench {
  settle_s: number;
  runner: Memory;
  /** The runner's worker processes (Python), each. */
  workers: Memory[];
  bare_node: Memory;
}

function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { vm_rss_mb: kb("VmRSS") / 1024, rss_anon_mb: kb("RssAnon") / 1024, rss_file_mb: kb("RssFile") / 1024 };
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter((s) => s !== "").map(Number);
  } catch {
    return [];
  }
}

/** Waits until RSS stops moving (three readings 1 s apart within 0.5 MB), at least `minS` seconds. */
async function settle(pid: number, minS: number): Promise<void> {
  await sleep(minS * 1000);
  const readings: number[] = [];
  for (let i = 0; i < 30; i++) {
    readings.push(memory(pid).vm_rss_mb);
    const last = readings.slice(-3);
    if (last.length === 3 && Math.max(...last) - Math.min(...last) < 0.5) return;
    await sleep(1000);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

export async function benchRss(root: string, quick: boolean): Promise<RssBench> {
  const settleS = quick ? 3 : 10;
  const work = mkdtempSync(path.join(tmpdir(), "pv-bench-rss-"));
  const cli = path.join(root, "dist", "bin", "procvision-runner.js");
  if (!existsSync(cli)) throw new Error("dist/bin/procvision-runner.js is missing: run `npm run build`");
  try {
    const storeRoot = await prepareThroughputStore(root, work);
    const runner = spawn(process.execPath, [cli, "serve", "--root", storeRoot, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    runner.stderr!.on("data", (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = "";
        runner.stdout!.on("data", (c: Buffer) => {
          out += c.toString();
          if (out.includes("listening on")) resolve();
        });
        runner.once("exit", (code) => reject(new Error(`procvision-runner serve exited (${code}): ${stderr}`)));
      });
      await settle(runner.pid!, settleS);
      const workers = children(runner.pid!).map(memory);
      if (workers.length === 0) throw new Error(`the runner has no worker processes: is the package active? ${stderr}`);
      const runnerMemory = memory(runner.pid!);

      const bare = spawn(process.execPath, ["-e", "setInterval(() => {}, 1 << 30)"], { stdio: "ignore" });
      try {
        await settle(bare.pid!, settleS);
        return { settle_s: settleS, runner: runnerMemory, workers, bare_node: memory(bare.pid!) };
      } finally {
        await stop(bare);
      }
    } finally {
      await stop(runner);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function rssLines(r: RssBench): string[] {
  const row = (label: string, m: Memory) => `| ${label} | ${fmt(m.vm_rss_mb, 1)} | ${fmt(m.rss_anon_mb, 1)} | ${fmt(m.rss_file_mb, 1)} |`;
  return [
    `## Idle runner RSS (\`procvision-runner serve\`, one active package, after ≥ ${r.settle_s} s idle)`,
    "",
    "| process | VmRSS MB | RssAnon MB | RssFile MB |",
    "|---|---|---|---|",
    row("bare `node -e \"setInterval(…)\"` (baseline)", r.bare_node),
    row("`procvision-runner serve` (Node: API, store, supervisor)", r.runner),
    ...r.workers.map((w, i) => row(`its worker #${i} (Python, numpy + SDK; not counted in the target)`, w)),
    "",
    `Target idle runner RSS ≤ 60 MB: ${verdict(r.runner.vm_rss_mb <= 60)} (${fmt(r.runner.vm_rss_mb, 1)} MB; ${fmt(r.runner.vm_rss_mb - r.bare_node.vm_rss_mb, 1)} MB above bare Node).`,
    "",
  ];
}
