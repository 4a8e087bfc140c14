import { closeSync, existsSync, openSync, statSync, unlinkSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { ErrorCode, ProcVisionError } from "../../errors/index.js";
import type { RawImage } from "../../image/decode.js";
import type { ResultLimits } from "../../inspection/index.js";
import type { Manifest } from "../../manifest/index.js";
import type { CallOutcome, StepInputs } from "../../local/run-local.js";
import { discardHeadStart, headStart } from "../../local/head-start.js";
import { projectPython } from "../../python/project-python.js";
import { style, tick, UsageError, type CommandOutput } from "../../command-line/reporter.js";
import { requireFile, requireProject } from "./inputs.js";
import { checkEntryPoint, tailLogs } from "./worker-flags.js";

export interface RunOptions {
  pid?: string;
  /** The current image; `--cur-image` is the same option under the original CLI's name. */
  image?: string;
  curImage?: string;
  guideImage?: string;
  stepDesc?: string;
  guideInfo?: string;
  step?: string;
  params?: string;
  sessionSteps?: string;
  timeoutMs?: string;
  saveOverlay?: string;
  report?: string;
  python?: string;
  entry?: string;
  tailLogs?: boolean;
  /** Accepted for the original CLI's scripts; there is one path, the adapter subprocess. */
  legacyRun?: boolean;
}

/** The project's manifest, held to the schema the runner installs by: its steps' params are what `--params` must fit. */
async function readManifest(projectDir: string): Promise<Manifest> {
  const file = path.join(projectDir, "manifest.json");
  requireProject(projectDir);
  if (!existsSync(file)) throw new UsageError(`${file} not found`, "run procvision-cli init, or point at the project folder", ErrorCode.manifest_missing);
  try {
    const { loadManifest } = await import("../../manifest/index.js");
    return await loadManifest(file);
  } catch (err) {
    if (!(err instanceof ProcVisionError)) throw err;
    throw new UsageError(err.message, err.hint ?? "procvision-cli validate explains what is wrong", ErrorCode.manifest_missing);
  }
}

/** `--params`/`--guide-info`: inline JSON or @file. */
async function readJsonFlag(flag: string, value: string, example: string): Promise<unknown> {
  let text = value;
  if (value.startsWith("@")) {
    const file = value.slice(1);
    requireFile(`${flag} file`, file, `check the path after the @, or pass the JSON inline: ${flag} '${example}'`);
    text = await readFile(file, "utf8");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`${flag} is not valid JSON: ${(err as Error).message}`, `pass JSON, e.g. ${flag} '${example}' or ${flag} @file.json`);
  }
}

async function loadImage(flag: string, file: string): Promise<RawImage> {
  requireFile(flag, file, "pass the path of a JPEG or PNG file");
  try {
    // Loaded here, after the adapter's head start: the decoders are not on the way to spawning it.
    const { decodeImage } = await import("../../image/decode.js");
    return await decodeImage({ path: file });
  } catch (err) {
    // Input error (exit 2) with the code the runner gives the same file: 1002.
    throw new UsageError((err as Error).message, "pass a JPEG or PNG file", ErrorCode.image_load_failed);
  }
}

/**
 * `--params` checked against each step's params with its defaults filled in, by the runner's rules (1006): what the
 * algorithm gets here is what a station would give it.
 */
async function stepParams(manifest: Manifest, steps: readonly number[], value: string | undefined): Promise<Map<number, Record<string, unknown>>> {
  const given = value === undefined ? {} : await readJsonFlag("--params", value, '{"threshold": 0.8}');
  const { checkParams, userParamsError } = await import("../../inspection/index.js");
  const params = new Map<number, Record<string, unknown>>();
  for (const step of steps) {
    const checked = checkParams(manifest, step, given);
    if (!checked.ok) {
      const error = userParamsError(checked.problems, step, `${manifest.name} ${manifest.version}`);
      throw new UsageError(error.message, error.hint);
    }
    params.set(step, checked.values);
  }
  return params;
}

/** A file path `run` can write: not a directory, in a directory that exists. */
function writableFile(flag: string, file: string): void {
  const dir = path.dirname(path.resolve(file));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${flag} ${file}: the folder ${dir} does not exist`, "create it first, or name a file in an existing folder");
  if (existsSync(file) && statSync(file).isDirectory()) throw new UsageError(`${flag} ${file} is a folder`, `name the file to write, e.g. ${path.join(file, flag === "--report" ? "report.html" : "overlay.png")}`);
  // Tried for real (permissions alone say nothing for root, or on /proc): the file itself, or a probe beside it.
  const probe = existsSync(file) ? undefined : path.join(dir, `.procvision-write-probe-${process.pid}`);
  try {
    closeSync(openSync(probe ?? file, probe ? "wx" : "r+"));
    if (probe) unlinkSync(probe);
  } catch (err) {
    throw new UsageError(`${flag} ${file} cannot be written: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, "name a file in a folder you may write to");
  }
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return n;
}

/** Without --step: step 1, or the first step the manifest declares when it has no step 1 (the original init's step 0). */
function defaultStep(manifest: Manifest): number {
  const declared = (manifest.steps ?? []).map((s) => s.index);
  return declared.length === 0 || declared.includes(1) ? 1 : Math.min(...declared);
}

/** Step indices are what the algorithm declares; projects of the original init start at 0. */
function stepIndex(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a step index (an integer ≥ 0), got "${value}"`);
  return n;
}

function describeCall(label: string, call: CallOutcome): string {
  const data = call.data as { result_status?: string; ng_reason?: string; defect_rects?: unknown[]; position_rects?: unknown[]; calibration_rects?: unknown[] };
  const parts = [`${tick(call.status === "OK")} ${label.padEnd(11)} ${call.status}`];
  if (call.error_code) parts.push(`[${call.error_code}]`);
  // A rejected answer keeps its data, but its verdict does not stand.
  if (call.status === "OK" && data.result_status) parts.push(`→ ${data.result_status === "OK" ? style.ok("OK") : style.bad(data.result_status)}`);
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

/** Which PID to run with: required (and checked) when the manifest lists supported_pids, optional when it lists none. */
function choosePid(manifest: Manifest, pid: string | undefined): string {
  const pids = manifest.supported_pids;
  if (pids === undefined || pids.length === 0) return pid ?? "";
  if (pid === undefined) throw new UsageError(`--pid is required: the manifest lists supported_pids [${pids.join(", ")}]`, `e.g. --pid ${pids[0]}`);
  if (!pids.includes(pid)) {
    throw new UsageError(`PID "${pid}" is not in supported_pids [${pids.join(", ")}]`, `run with one of them, e.g. --pid ${pids[0]}, or add "${pid}" to supported_pids in manifest.json`, ErrorCode.invalid_pid);
  }
  return pid;
}

/**
 * The current and the guide image's paths. `--image` is the current image; given beside a different `--cur-image`
 * and no `--guide-image`, it is the guide image, as the original 0.3.x CLI read it, so its scripts run unchanged.
 */
function imagePaths(options: RunOptions): { current: string; guide?: string } {
  const { image, curImage, guideImage } = options;
  if (image !== undefined && curImage !== undefined && path.resolve(image) !== path.resolve(curImage)) {
    if (guideImage !== undefined) {
      throw new UsageError("--image and --cur-image name the same input (the current image); pass one of them", "the guide image is --guide-image");
    }
    return { current: curImage, guide: image };
  }
  const current = curImage ?? image;
  if (current === undefined) throw new UsageError("--cur-image (or --image) is required", "e.g. --cur-image part.jpg [--guide-image guide.jpg]");
  return guideImage !== undefined ? { current, guide: guideImage } : { current };
}

interface StepsRun {
  projectDir: string;
  entryPoint: string;
  steps: number[];
  timeoutMs: number;
  imagePath: string;
  guidePath?: string;
  options: RunOptions;
  calls: StepInputs;
}

/** The images decoded and the steps run through a local harness on the project's Python. */
async function runSteps(run: StepsRun) {
  // At once: the interpreter probe (a Python process), the decoding (sharp's threads) and loading the harness.
  const [python, image, guide, { LocalHarness }] = await Promise.all([
    projectPython(run.projectDir, run.options.python),
    loadImage("image", run.imagePath),
    run.guidePath !== undefined ? loadImage("--guide-image", run.guidePath) : undefined,
    import("../../local/run-local.js"),
  ]);
  const harness = await LocalHarness.start({
    projectDir: run.projectDir, entryPoint: run.entryPoint,
    python: python.interpreter.executable, command: python.command, pythonPath: python.pythonPath,
    startupTimeoutMs: Math.max(run.timeoutMs, 60_000),
    ...(run.options.tailLogs ? { onStderr: tailLogs } : {}),
  });
  try {
    harness.setImages(image, guide);
    const outcomes = await harness.runSteps(run.steps, run.calls, run.timeoutMs);
    return { image, guide, outcomes, generation: harness.generation, startupMs: harness.startupMs };
  } finally {
    await harness.close();
  }
}

export async function runCommand(project: string, options: RunOptions): Promise<CommandOutput> {
  const projectDir = path.resolve(project);
  const entry = options.entry !== undefined ? checkEntryPoint(options.entry) : undefined;
  // The adapter (Python importing numpy and the algorithm) starts before anything else is loaded or checked; a run
  // that stops before its harness takes it over ends it.
  headStart({ projectDir, ...(entry ? { entryPoint: entry } : {}), ...(options.python ? { python: options.python } : {}) });
  try {
    return await runProject(projectDir, entry, options);
  } finally {
    discardHeadStart();
  }
}

async function runProject(projectDir: string, entry: string | undefined, options: RunOptions): Promise<CommandOutput> {
  const manifest = await readManifest(projectDir);
  const pid = choosePid(manifest, options.pid);
  const { current: imagePath, guide: guidePath } = imagePaths(options);
  const entryPoint = entry ?? manifest.entry_point;
  const guideInfo = options.guideInfo !== undefined ? await readJsonFlag("--guide-info", options.guideInfo, '[{"label": "1", "posList": []}]') : [];
  const steps = options.sessionSteps !== undefined
    ? options.sessionSteps.split(",").map((s) => stepIndex("--session-steps", s.trim()))
    : [options.step !== undefined ? stepIndex("--step", options.step) : defaultStep(manifest)];
  const params = await stepParams(manifest, steps, options.params);
  const timeoutMs = options.timeoutMs !== undefined ? positiveInt("--timeout-ms", options.timeoutMs) : 30_000;
  // Checked before the algorithm runs: a result found and then lost to an unwritable output path helps nobody.
  if (options.saveOverlay !== undefined) writableFile("--save-overlay", options.saveOverlay);
  if (options.report !== undefined) writableFile("--report", options.report);
  const stepNames = new Map((manifest.steps ?? []).map((s) => [s.index, s.name]));
  const limits: ResultLimits = (await import("../../inspection/index.js")).DEFAULT_LIMITS;
  const { image, guide, outcomes, generation, startupMs } = await runSteps({
    projectDir, entryPoint, steps, timeoutMs, imagePath, ...(guidePath !== undefined ? { guidePath } : {}), options,
    calls: {
      pid, paramsFor: (step) => params.get(step) ?? {}, guideInfo, limits,
      stepDescFor: (step) => options.stepDesc ?? stepNames.get(step) ?? "",
    },
  });

  if (options.saveOverlay || options.report) {
    const { renderOverlay, renderReport } = await import("../../image/overlay.js");
    if (options.saveOverlay) await writeFile(options.saveOverlay, await renderOverlay(image, outcomes));
    if (options.report) {
      await writeFile(options.report, await renderReport({ title: `${manifest.name} ${manifest.version}`, pid: pid || "(none)", imageName: path.basename(imagePath), image, steps: outcomes }));
    }
  }
  const ok = outcomes.every((o) => o.execute.status === "OK");
  const perStep = outcomes.map((o) => ({ ...(o.pre_execute ? { pre_execute: jsonCall(o.pre_execute) } : {}), execute: jsonCall(o.execute) }));
  const images = `${path.basename(imagePath)} ${image.width}×${image.height}${guide && guidePath ? `, guide ${path.basename(guidePath)} ${guide.width}×${guide.height}` : ""}`;
  return {
    exitCode: ok ? 0 : 1,
    json: options.sessionSteps !== undefined ? perStep : perStep[0],
    human: [
      `${manifest.name} ${manifest.version} (${generation}) · ${pid ? `pid ${pid} · ` : ""}${images} · worker ready in ${startupMs.toFixed(0)} ms`,
      ...outcomes.flatMap((o) => [
        style.bold(`step ${o.step_index}`),
        ...(o.pre_execute ? [`  ${describeCall("pre_execute", o.pre_execute)}`] : []),
        `  ${describeCall("execute", o.execute)}`,
      ]),
      ...(options.saveOverlay ? [`overlay written to ${options.saveOverlay}`] : []),
      ...(options.report ? [`report written to ${options.report}`] : []),
    ],
  };
}
