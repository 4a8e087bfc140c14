import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { decodeImage } from "../../image/decode.js";
import { renderOverlay, renderReport } from "../../image/overlay.js";
import { LocalHarness, type CallOutcome, type StepOutcome } from "../../local/run-local.js";
import { projectPython } from "../../python/project-python.js";
import { style, tick, UsageError, type CommandOutput } from "../output.js";

export interface RunOptions {
  pid: string;
  image: string;
  step?: string;
  params?: string;
  sessionSteps?: string;
  timeoutMs?: string;
  saveOverlay?: string;
  report?: string;
  python?: string;
}

interface ProjectManifest {
  name: string;
  version: string;
  entry_point: string;
  supported_pids: string[];
}

async function readManifest(projectDir: string): Promise<ProjectManifest> {
  const file = path.join(projectDir, "manifest.json");
  if (!existsSync(projectDir)) throw new UsageError(`project ${projectDir} not found`);
  if (!existsSync(file)) throw new UsageError(`${file} not found`, "run procvision-cli init, or point at the project folder");
  try {
    const manifest = JSON.parse(await readFile(file, "utf8")) as ProjectManifest;
    if (typeof manifest.entry_point !== "string" || !Array.isArray(manifest.supported_pids)) throw new Error("entry_point or supported_pids missing");
    return manifest;
  } catch (err) {
    throw new UsageError(`${file} is not a usable manifest: ${(err as Error).message}`, "procvision-cli validate explains what is wrong");
  }
}

async function parseParams(value: string | undefined): Promise<Record<string, unknown>> {
  if (value === undefined) return {};
  let text = value;
  if (value.startsWith("@")) {
    const file = value.slice(1);
    if (!existsSync(file)) throw new UsageError(`--params file ${file} not found`);
    text = await readFile(file, "utf8");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--params is not valid JSON: ${(err as Error).message}`, `pass an object, e.g. --params '{"threshold": 0.8}' or --params @params.json`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new UsageError("--params must be a JSON object");
  return parsed as Record<string, unknown>;
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return n;
}

function describeCall(label: string, call: CallOutcome): string {
  const data = call.data as { result_status?: string; ng_reason?: string; defect_rects?: unknown[]; position_rects?: unknown[]; calibration_rects?: unknown[] };
  const parts = [`${tick(call.status === "OK")} ${label.padEnd(11)} ${call.status}`];
  if (call.error_code) parts.push(`[${call.error_code}]`);
  if (data.result_status) parts.push(`→ ${data.result_status === "OK" ? style.ok("OK") : style.bad(data.result_status)}`);
  if (call.message) parts.push(`"${call.message}"`);
  if (data.ng_reason) parts.push(`ng_reason "${data.ng_reason}"`);
  const rects = (["calibration_rects", "position_rects", "defect_rects"] as const)
    .filter((k) => Array.isArray(data[k]) && data[k].length > 0).map((k) => `${data[k]!.length} ${k.replace("_rects", "")}`);
  if (rects.length > 0) parts.push(`(${rects.join(", ")} rects)`);
  parts.push(style.dim(`${call.latency_ms.toFixed(1)} ms`));
  return parts.join(" ");
}

const jsonCall = (c: CallOutcome) => ({
  status: c.status, message: c.message, error_code: c.error_code, data: c.data, debug: c.debug,
  latency_ms: Number(c.latency_ms.toFixed(3)), stdout_bytes: c.stdout_bytes,
});

export async function runCommand(project: string, options: RunOptions): Promise<CommandOutput> {
  const projectDir = path.resolve(project);
  const manifest = await readManifest(projectDir);
  if (!manifest.supported_pids.includes(options.pid)) {
    throw new UsageError(`PID "${options.pid}" is not in supported_pids [${manifest.supported_pids.join(", ")}]`);
  }
  if (!existsSync(options.image)) throw new UsageError(`image ${options.image} not found`);
  const params = await parseParams(options.params);
  const steps = options.sessionSteps !== undefined
    ? options.sessionSteps.split(",").map((s) => positiveInt("--session-steps", s.trim()))
    : [positiveInt("--step", options.step ?? "1")];
  const timeoutMs = options.timeoutMs !== undefined ? positiveInt("--timeout-ms", options.timeoutMs) : 30_000;
  let image;
  try {
    image = await decodeImage({ path: options.image });
  } catch (err) {
    throw new UsageError((err as Error).message, "pass a JPEG or PNG file");
  }

  const python = await projectPython(projectDir, options.python);
  const harness = await LocalHarness.start({
    projectDir, entryPoint: manifest.entry_point, python: python.interpreter.executable, pythonPath: python.pythonPath,
    startupTimeoutMs: Math.max(timeoutMs, 60_000),
  });
  let outcomes: StepOutcome[];
  try {
    harness.setImage(image);
    outcomes = await harness.runSteps(options.pid, steps, () => params, timeoutMs);
  } finally {
    await harness.close();
  }

  if (options.saveOverlay) await writeFile(options.saveOverlay, await renderOverlay(image, outcomes));
  if (options.report) {
    await writeFile(options.report, await renderReport({ title: `${manifest.name} ${manifest.version}`, pid: options.pid, imageName: path.basename(options.image), image, steps: outcomes }));
  }
  const ok = outcomes.every((o) => o.execute.status === "OK");
  const perStep = outcomes.map((o) => ({ pre_execute: jsonCall(o.pre_execute), execute: jsonCall(o.execute) }));
  return {
    exitCode: ok ? 0 : 1,
    json: options.sessionSteps !== undefined ? perStep : perStep[0],
    human: [
      `${manifest.name} ${manifest.version} · pid ${options.pid} · ${path.basename(options.image)} ${image.width}×${image.height} · worker ready in ${harness.startupMs.toFixed(0)} ms`,
      ...outcomes.flatMap((o) => [style.bold(`step ${o.step_index}`), `  ${describeCall("pre_execute", o.pre_execute)}`, `  ${describeCall("execute", o.execute)}`]),
      ...(options.saveOverlay ? [`overlay written to ${options.saveOverlay}`] : []),
      ...(options.report ? [`report written to ${options.report}`] : []),
    ],
  };
}
