// `npm run bench`: every figure next to a baseline measured in the same run, on this machine.
// Results: bench/results/latest.json (raw) and docs/BENCHMARKS.md (summary). Targets are judged here, never in tests.
//
//   npx tsx bench/run.ts                      every section; rewrites latest.json and docs/BENCHMARKS.md
//   npx tsx bench/run.ts --quick              fewer rounds / smaller data, same sections
//   npx tsx bench/run.ts --only install       one section (or a comma list): prints its markdown and writes
//                                             bench/results/only-<section>.json; docs/BENCHMARKS.md is left alone
//
// Each section lives in its own module and returns raw results plus its markdown lines.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nativeAvailable } from "../src/shm/native.js";
import { authorLoopLines, benchAuthorLoop } from "./author-loop.js";
import { benchDual, dualLines } from "./dual.js";
import { benchInstall, installLines } from "./install.js";
import { benchInstallers, installersLines } from "./installers.js";
import { benchPackage, packageLines } from "./package.js";
import { benchRss, rssLines } from "./rss.js";
import { benchFleet, fleetLines } from "./fleet.js";
import { benchTelemetry, telemetryLines } from "./telemetry.js";
import { benchThroughput, throughputLines } from "./throughput.js";
import { benchFrames, benchRoundTrip, benchStartup, framesLines, roundTripLines, startupLines, type WorkerBenchContext } from "./worker.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const python = path.join(root, ".cache", "test-venv", "bin", "python");
const fixtures = path.join(root, "bench", "fixtures");

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  if (i >= 0) return process.argv[i + 1];
  const inline = process.argv.find((a) => a.startsWith(`${name}=`));
  return inline?.slice(name.length + 1);
}

const quick = process.argv.includes("--quick");
const context: WorkerBenchContext = { python, fixtures, quick };

interface Section {
  /** Key in latest.json and the --only name. */
  name: string;
  run: () => Promise<unknown>;
  lines: (result: never) => string[];
}

const sections: Section[] = [
  { name: "roundtrip", run: () => benchRoundTrip(context), lines: roundTripLines },
  { name: "frames", run: () => benchFrames(context), lines: framesLines },
  { name: "startup", run: () => benchStartup(context), lines: startupLines },
  { name: "package", run: async () => benchPackage(root, quick), lines: packageLines },
  { name: "install", run: () => benchInstall(root, quick), lines: installLines },
  { name: "installers", run: () => benchInstallers(root, quick), lines: installersLines },
  { name: "throughput", run: () => benchThroughput(root, quick), lines: throughputLines },
  { name: "dual", run: () => benchDual(root, quick), lines: dualLines },
  { name: "telemetry", run: () => benchTelemetry(root, quick), lines: telemetryLines },
  { name: "rss", run: () => benchRss(root, quick), lines: rssLines },
  { name: "author-loop", run: () => benchAuthorLoop(root, quick), lines: authorLoopLines },
  { name: "fleet", run: () => benchFleet(root, quick), lines: fleetLines },
];

const onlyArg = argValue("--only");
const only = onlyArg?.split(",").map((s) => s.trim()).filter((s) => s !== "");
if (only !== undefined) {
  const unknown = only.filter((n) => !sections.some((s) => s.name === n));
  if (unknown.length > 0 || only.length === 0) {
    console.error(`--only takes section names (comma separated): ${sections.map((s) => s.name).join(", ")}; got ${onlyArg ?? "nothing"}`);
    process.exit(2);
  }
}
const selected = only === undefined ? sections : sections.filter((s) => only.includes(s.name));

const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  memory_gib: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  python: execFileSync(python, ["-c", "import sys; print(sys.version.split()[0])"]).toString().trim(),
  shm_backend: nativeAvailable() ? "mapped (N-API addon)" : "file (fs.writeSync)",
};
console.log("machine", machine);

const results: Record<string, unknown> = {};
const markdown: string[] = [];
for (const section of selected) {
  const t0 = performance.now();
  const result = await section.run();
  results[section.name] = result;
  const lines = section.lines(result as never);
  markdown.push(...lines);
  console.log(`── ${section.name} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n${lines.join("\n")}`);
}

const date = new Date().toISOString();
const raw = { date, quick, machine, ...results };
mkdirSync(path.join(root, "bench", "results"), { recursive: true });
if (only !== undefined) {
  const file = path.join(root, "bench", "results", `only-${only.join("+")}.json`);
  writeFileSync(file, JSON.stringify(raw, null, 2) + "\n");
  console.log(`wrote ${path.relative(root, file)} (docs/BENCHMARKS.md is only rewritten by a run of every section)`);
} else {
  writeFileSync(path.join(root, "bench", "results", "latest.json"), JSON.stringify(raw, null, 2) + "\n");
  const lines = [
    "# Benchmarks",
    "",
    `Generated by \`npm run bench\` on ${date.slice(0, 10)}${quick ? " (quick mode)" : ""}. Raw figures: \`bench/results/latest.json\`.`,
    "Every figure is measured in the same run as its baseline.",
    "",
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory_gib} GiB; Node ${machine.node}; Python ${machine.python}; shm backend: ${machine.shm_backend}.`,
    "",
    ...markdown,
  ];
  // The hand-written "## Notes" section (and everything after it) survives regeneration.
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
}
