// The wheel installers against each other (issue 15): builtin, pip and uv (cold and warm cache) through the runner's
// one interface (installWheels), on the project's own example (numpy + pillow + opencv-python-headless + the SDK) and
// on a large real set (≥ 50 wheels from PyPI, ≥ 1 GiB installed, ansible's 21,488 files among them), in one run.
// Each install runs in a process of its own (bench/install-child.ts) into a fresh venv, every contender from the same
// page-cache state, rounds interleaved; wall time is the installWheels call, peak memory the largest sum of the RSS of
// that process and everything it started (pip's Python, uv), sampled from /proc every 25 ms.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { directorySize } from "../src/store/install/deploy.js";
import { chooseInstaller, type InstallerChoice } from "../src/wheel-installer/index.js";
import { cachedUv, LARGE_SET, wheelSet } from "../test/helpers/wheel-set.js";
import { OPENCV, PILLOW } from "./install.js";
import { settle } from "./page-cache.js";
import { median } from "./stats.js";
import { cachedWheel, numpyWheel, sdkPin, sdkWheel } from "./zip.js";

type Contender = "builtin" | "pip" | "uv (cold cache)" | "uv (warm cache)";
const CONTENDERS: Contender[] = ["builtin", "pip", "uv (cold cache)", "uv (warm cache)"];

interface Sample { install_ms: number; peak_rss_mb: number; node_rss_mb: number }

export interface InstallersBench {
  uv_version: string;
  sets: {
    name: string;
    wheels: number;
    wheel_bytes: number;
    files: number;
    installed_bytes: number;
    runs: number;
    results: Record<Contender, { install_ms: number; peak_rss_mb: number; node_rss_mb: number; samples: Sample[] }>;
  }[];
  /** What `installer: "auto"` picks on this machine. */
  auto: string;
}

const PAGE = 4096;

/** RSS of `root` and all its descendants, in bytes (a process that exits between the reads is skipped). */
function treeRss(root: number): number {
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone
    }
  }
  let total = 0;
  for (const pid of parents.keys()) {
    let p: number | undefined = pid;
    while (p !== undefined && p !== root && p > 1) p = parents.get(p);
    if (p !== root) continue;
    try {
      total += Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * PAGE;
    } catch {
      // gone
    }
  }
  return total;
}

/** One install in a child process; resolves with its timing and the peak RSS of its process tree. */
function installOnce(root: string, job: { choice: InstallerChoice; wheels: string[]; requirements: string[]; venv: string }, home: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "bench", "install-child.ts"), JSON.stringify(job)], {
      cwd: root, env: { ...process.env, HOME: home }, stdio: ["ignore", "pipe", "inherit"],
    });
    let peak = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, treeRss(child.pid!));
    }, 25);
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      clearInterval(timer);
      if (code !== 0) return reject(new Error(`install with ${job.choice.kind} exited ${code}`));
      const { install_ms, rss_before_kb } = JSON.parse(out) as { install_ms: number; rss_before_kb: number };
      resolve({ install_ms, peak_rss_mb: peak / 2 ** 20, node_rss_mb: rss_before_kb / 1024 });
    });
  });
}

export async function benchInstallers(root: string, quick: boolean): Promise<InstallersBench> {
  const uv = cachedUv(root);
  const sets = [
    {
      name: "the example (numpy + pillow + opencv-python-headless + SDK)",
      wheels: [sdkWheel(), numpyWheel(root), cachedWheel(root, `pillow-${PILLOW}-cp311-cp311-manylinux`, `pillow==${PILLOW}`),
        cachedWheel(root, `opencv_python_headless-${OPENCV}-`, `opencv-python-headless==${OPENCV}`)],
      requirements: ["numpy==2.2.6", sdkPin(), `pillow==${PILLOW}`, `opencv-python-headless==${OPENCV}`],
    },
    { name: `a large real set (${LARGE_SET.length} wheels from PyPI, ansible's 21,488 files among them)`, wheels: wheelSet(root, LARGE_SET), requirements: LARGE_SET },
  ];
  const work = mkdtempSync(path.join(tmpdir(), "pv-bench-installers-"));
  const runs = quick ? 1 : 3;
  try {
    const out: InstallersBench["sets"] = [];
    for (const [index, set] of sets.entries()) {
      const samples = Object.fromEntries(CONTENDERS.map((c) => [c, [] as Sample[]])) as Record<Contender, Sample[]>;
      // The warm uv cache: one untimed uv install of the same wheels first.
      const warmHome = path.join(work, `home-warm-${index}`);
      mkdirSync(warmHome);
      await installOnce(root, { choice: { kind: "uv", uv }, wheels: set.wheels, requirements: set.requirements, venv: path.join(work, "prime") }, warmHome);
      rmSync(path.join(work, "prime"), { recursive: true, force: true });
      let installed = 0;
      let files = 0;
      for (let round = 0; round < runs; round++) {
        for (const contender of round % 2 === 0 ? CONTENDERS : [...CONTENDERS].reverse()) {
          const venv = path.join(work, "venv");
          const coldHome = mkdtempSync(path.join(work, "home-cold-"));
          const choice: InstallerChoice = contender === "builtin" ? { kind: "builtin" } : contender === "pip" ? { kind: "pip" } : { kind: "uv", uv };
          settle(set.wheels);
          samples[contender].push(await installOnce(root, { choice, wheels: set.wheels, requirements: set.requirements, venv },
            contender === "uv (warm cache)" ? warmHome : coldHome));
          if (contender === "pip" && installed === 0) {
            installed = await directorySize(venv);
            files = readdirSync(venv, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
          }
          rmSync(venv, { recursive: true, force: true });
          rmSync(coldHome, { recursive: true, force: true });
        }
      }
      const wheelBytes = set.wheels.reduce((sum, w) => sum + statSync(w).size, 0);
      out.push({
        name: set.name, wheels: set.wheels.length, wheel_bytes: wheelBytes, files, installed_bytes: installed, runs,
        results: Object.fromEntries(CONTENDERS.map((c) => [c, {
          install_ms: median(samples[c].map((s) => s.install_ms)), peak_rss_mb: median(samples[c].map((s) => s.peak_rss_mb)),
          node_rss_mb: median(samples[c].map((s) => s.node_rss_mb)), samples: samples[c],
        }])) as InstallersBench["sets"][number]["results"],
      });
    }
    return { uv_version: execFileSync(uv, ["--version"]).toString().trim(), sets: out, auto: chooseInstaller("auto", uv).kind };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function installersLines(r: InstallersBench): string[] {
  const lines = [
    "## Wheel installers: builtin, pip, uv (the same wheels through `installWheels`, each into a fresh venv)",
    "",
    `Medians of ${r.sets[0]?.runs ?? 0} interleaved round(s); each install in a process of its own from the same page-cache state. ` +
      "Time: the `installWheels` call (venv creation not counted; bytecode is compiled afterwards by the pipeline in every case). " +
      "Peak memory: the largest sum of the RSS of that process and everything it started (pip's Python, uv), sampled every 25 ms; " +
      `it includes the driving Node process (its RSS before the install in brackets). uv: \`${r.uv_version}\`, cold = empty cache, warm = the same wheels installed once before.`,
    "",
  ];
  for (const set of r.sets) {
    const fastest = Math.min(...Object.values(set.results).map((x) => x.install_ms));
    lines.push(
      `### ${set.name}: ${set.wheels} wheels, ${(set.wheel_bytes / 2 ** 20).toFixed(0)} MB → ${(set.installed_bytes / 2 ** 30).toFixed(2)} GiB installed in ${set.files} files`,
      "",
      "| installer | seconds | vs fastest | peak memory MB (Node before) |",
      "|---|---|---|---|",
      ...Object.entries(set.results).map(([name, x]) =>
        `| ${name} | ${(x.install_ms / 1000).toFixed(2)} | ${(x.install_ms / fastest).toFixed(2)}× | ${x.peak_rss_mb.toFixed(0)} (${x.node_rss_mb.toFixed(0)}) |`),
      "",
    );
  }
  lines.push(`\`installer: "auto"\` on this machine: ${r.auto} (see docs/ARCHITECTURE.md for why).`, "");
  return lines;
}
