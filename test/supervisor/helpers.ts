import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { manifestSchema } from "../../src/manifest/schema.js";
import { parseRunnerConfig, type RunnerConfig, type RunnerConfigInput } from "../../src/runner/config.js";
import type { SupervisorEvent, SupervisorEventType } from "../../src/supervisor/events.js";
import type { PoolTuning } from "../../src/supervisor/pool.js";
import { Supervisor, type SupervisorOptions } from "../../src/supervisor/supervisor.js";
import { silentLogger, type InspectionRecord, type PackageSpec, type RawPixels } from "../../src/supervisor/types.js";
import { afterEach } from "vitest";
import { fixture, testPython } from "../helpers/python.js";

export interface TestPackage {
  spec: PackageSpec;
  dir: string;
  setControl(control: Record<string, unknown>): void;
}

/** A package dir of its own (the algorithm reads control.json from its cwd), so test files never share faults. */
export function makePackage(control: Record<string, unknown> = {}, version = "1.0"): TestPackage {
  const dir = mkdtempSync(path.join(tmpdir(), "pv-sup-"));
  copyFileSync(fixture(path.join("supervisor", "sup_algo.py")), path.join(dir, "sup_algo.py"));
  const setControl = (c: Record<string, unknown>) => writeFileSync(path.join(dir, "control.json"), JSON.stringify(c));
  setControl(control);
  const manifest = manifestSchema.parse({
    name: "sup-algo",
    version,
    entry_point: "sup_algo:SupAlgo",
    supported_pids: ["p001", "p002"],
    steps: [
      { index: 1, name: "locate", params: [
        { key: "threshold", type: "float", default: 0.5, min: 0, max: 1 },
        { key: "mode", type: "enum", choices: ["fast", "accurate"], default: "fast" },
      ] },
      { index: 2, name: "check", params: [{ key: "roi", type: "rect", required: true }] },
    ],
  });
  return {
    dir,
    setControl,
    spec: { name: "sup-algo", version, dir, python: testPython(), entryPoint: "sup_algo:SupAlgo", manifest, logsDir: path.join(dir, "logs") },
  };
}

/** Short limits so fault tests take milliseconds, not the station defaults' seconds. */
export function fastConfig(overrides: RunnerConfigInput = {}): RunnerConfig {
  return parseRunnerConfig({
    pre_execute_timeout_ms: 5_000,
    execute_timeout_ms: 5_000,
    startup_timeout_ms: 20_000,
    heartbeat_interval_ms: 1_000,
    heartbeat_grace_ms: 1_000,
    kill_grace_ms: 300,
    max_retries: 0,
    ...overrides,
  });
}

export const fastTuning: Partial<PoolTuning> = {
  backoff: { baseMs: 20, maxMs: 200, stableUptimeMs: 60_000 },
  breakerCooldownMs: 300,
};

export interface Harness {
  sup: Supervisor;
  events: SupervisorEvent[];
  records: InspectionRecord[];
  /** PID → package bindings the resolver answers from. */
  bind(pid: string, pkg: PackageSpec | undefined): void;
}

export function makeSupervisor(config: RunnerConfig, bindings: Record<string, PackageSpec> = {}, extra: Partial<SupervisorOptions> = {}): Harness {
  const bound = new Map(Object.entries(bindings));
  const events: SupervisorEvent[] = [];
  const records: InspectionRecord[] = [];
  const sup = new Supervisor({
    config,
    resolveActive: (pid) => bound.get(pid),
    logger: silentLogger,
    tuning: fastTuning,
    onRecord: (r) => void records.push(r),
    ...extra,
  });
  sup.on("event", (e) => events.push(e));
  return {
    sup, events, records,
    bind: (pid, pkg) => (pkg ? bound.set(pid, pkg) : bound.delete(pid)),
  };
}

/** Resolves with the first event of `type` matching `match` (past events are not replayed). */
export function nextEvent<T extends SupervisorEventType>(
  sup: Supervisor, type: T, match: (e: Extract<SupervisorEvent, { type: T }>) => boolean = () => true, timeoutMs = 15_000,
): Promise<Extract<SupervisorEvent, { type: T }>> {
  return new Promise((resolve, reject) => {
    const on = (e: SupervisorEvent) => {
      if (e.type !== type || !match(e as Extract<SupervisorEvent, { type: T }>)) return;
      clearTimeout(timer);
      sup.off("event", on);
      resolve(e as Extract<SupervisorEvent, { type: T }>);
    };
    const timer = setTimeout(() => {
      sup.off("event", on);
      reject(new Error(`no ${type} event within ${timeoutMs} ms`));
    }, timeoutMs);
    sup.on("event", on);
  });
}

/** Polls a condition (for state that has no event, e.g. "the call reached the worker"). */
export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function rawImage(width = 8, height = 6): RawPixels {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = i % 251;
  return { data, width, height };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/** Live adapter processes started by this test process (from /proc). */
export function childPids(): number[] {
  const mine = String(process.pid);
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …; comm may hold spaces, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (fields[1] === mine && fields[0] !== "Z" && cmdline.includes("procvision_algorithm_sdk.adapter")) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Segments this process made (the runner's naming: procvision-<pid>-...). */
export function ownSegments(): string[] {
  return readdirSync("/dev/shm").filter((n) => n.startsWith(`procvision-${process.pid}-`));
}

/**
 * Registers an afterEach that stops every supervisor handed to the returned function during the test (call it at the
 * top of a test file): no worker outlives its test.
 */
export function stopAfterEach(): (h: Harness) => Harness {
  const harnesses: Harness[] = [];
  afterEach(async () => {
    await Promise.all(harnesses.splice(0).map((h) => h.sup.stopAll()));
  });
  return (h) => {
    harnesses.push(h);
    return h;
  };
}
