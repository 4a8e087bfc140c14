import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ProcVisionError } from "../errors/procvision-error.js";
import type { RawImage } from "../image/decode.js";
import { syntheticImage } from "../image/synthetic.js";
import { LocalHarness } from "../local/run-local.js";
import { parseJson, validateManifest, type Manifest } from "../manifest/index.js";
import { resolveInterpreter } from "../python/interpreter.js";
import { projectPython, type ProjectPython } from "../python/project-python.js";
import type { Generation } from "../protocol/messages.js";
import type { WorkerLaunch } from "../worker/env.js";
import type { StderrLine } from "../worker/stderr-tail.js";
import { fail, pass, type Check } from "./report.js";
import { resultChecks } from "./result-checks.js";
import { smokeParams } from "./smoke-params.js";

export interface ProjectCheckOptions {
  projectDir: string;
  manifestPath?: string;
  python?: string;
  imagePath?: string;
  pid?: string;
  /** `module.path:ClassName` to run instead of the manifest's entry_point (`--entry`). */
  entryPoint?: string;
  /** The worker's stderr lines as they come (`--tail-logs`). */
  onStderr?: (line: StderrLine) => void;
  /**
   * Start the algorithm exactly like this (an installed package's workers): no interpreter search and no bundled SDK
   * on PYTHONPATH. Without it, the project's Python is used and lent the bundled SDK when it lacks one.
   */
  worker?: WorkerLaunch;
  /** Per call; a hung algorithm must not hang validate. */
  callTimeoutMs?: number;
  startupTimeoutMs?: number;
}

interface ManifestFields {
  name: string;
  version: string;
  entry_point: string;
  /** Optional: a G3 (execute-only) algorithm may leave it out and take whatever PID it is activated for. */
  supported_pids?: string[];
}

function requiredFields(value: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const key of ["name", "version", "entry_point"] as const) {
    if (typeof value[key] !== "string" || value[key] === "") problems.push(`${key} must be a non-empty string`);
  }
  const pids = value.supported_pids;
  if (pids !== undefined && (!Array.isArray(pids) || pids.length === 0 || pids.some((p) => typeof p !== "string"))) {
    problems.push("supported_pids must be a non-empty list of strings (or left out for an execute-only algorithm)");
  }
  return problems;
}

/** The step indices and names the manifest declares (even when the rest of it fails the schema). */
function manifestSteps(raw: Record<string, unknown>): { index: number; name: string }[] {
  if (!Array.isArray(raw.steps)) return [];
  return raw.steps.flatMap((s: unknown) => {
    const { index, name } = (typeof s === "object" && s !== null ? s : {}) as { index?: unknown; name?: unknown };
    return typeof index === "number" && Number.isInteger(index) ? [{ index, name: typeof name === "string" ? name : "" }] : [];
  });
}

function sameSet(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x)) && b.every((x) => a.includes(x));
}

/**
 * The project half of `validate`: the manifest on its own, then the algorithm run through the adapter in a
 * subprocess (the runner's path) on a synthetic or given image, for every step get_info() declares.
 * A check that cannot run because an earlier one failed is left out, not failed.
 */
export async function projectChecks(options: ProjectCheckOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const manifestPath = options.manifestPath ?? path.join(options.projectDir, "manifest.json");
  if (!existsSync(manifestPath)) {
    return [fail("manifest_exists", `${manifestPath} not found: run procvision-cli init, or pass --manifest`)];
  }
  checks.push(pass("manifest_exists", manifestPath));

  // Read as package and the runner read it (a leading BOM from a Windows editor is fine), so all three agree.
  const json = parseJson(await readFile(manifestPath, "utf8"));
  if (!json.ok) return [...checks, fail("manifest_load", `manifest.json is not valid JSON at line ${json.line}, column ${json.column}: ${json.message}`)];
  if (typeof json.value !== "object" || json.value === null || Array.isArray(json.value)) {
    return [...checks, fail("manifest_load", "manifest.json is not valid JSON: the top level must be a JSON object")];
  }
  const raw = json.value as Record<string, unknown>;
  checks.push(pass("manifest_load", "valid JSON"));

  const missing = requiredFields(raw);
  if (missing.length > 0) return [...checks, fail("manifest_fields", missing.join("; "))];
  const fields = raw as unknown as ManifestFields;
  checks.push(pass("manifest_fields", `${fields.name} ${fields.version}, entry ${fields.entry_point}`));

  const schema = validateManifest(raw);
  const manifest: Manifest | undefined = schema.ok ? schema.manifest : undefined;
  checks.push(schema.ok ? pass("manifest_schema", "manifest matches the schema")
    : fail("manifest_schema", schema.errors.map((e) => `${e.path}: ${e.message}`).join("; ")));

  let image: RawImage;
  try {
    // The decoders load only for a given image: the author's loop on a synthetic one does not pay for them.
    image = options.imagePath ? await (await import("../image/decode.js")).decodeImage({ path: options.imagePath }) : syntheticImage();
  } catch (err) {
    throw ProcVisionError.from(err, "1002");
  }

  const entryPoint = options.entryPoint ?? fields.entry_point;
  const python: ProjectPython = options.worker
    ? { interpreter: await resolveInterpreter(options.worker.python, options.worker.env), source: "package", command: options.worker.python, pythonPath: [], lent: false }
    : await projectPython(options.projectDir, options.python);
  let harness: LocalHarness;
  try {
    harness = await LocalHarness.start({
      projectDir: path.dirname(manifestPath),
      entryPoint,
      python: python.interpreter.executable,
      command: python.command,
      pythonPath: python.pythonPath,
      ...(options.worker ? { env: options.worker.env } : {}),
      startupTimeoutMs: options.startupTimeoutMs ?? 60_000,
      ...(options.onStderr ? { onStderr: options.onStderr } : {}),
    });
  } catch (err) {
    const error = ProcVisionError.from(err);
    const phase = error.details?.phase;
    const tail = typeof error.details?.stderr_tail === "string" ? lastLine(error.details.stderr_tail) : "";
    const message = `${error.message}${tail ? ` — ${tail}` : ""} (Python: ${python.interpreter.executable} from ${python.source})`;
    if (phase === "setup" || phase === "get_info") {
      return [...checks, pass("entry_import", `${entryPoint} imported`), fail("get_info", message)];
    }
    return [...checks, fail("entry_import", message)];
  }

  try {
    const { worker, generation } = harness;
    checks.push(worker.baseAlgorithm === false
      ? fail("entry_import", `${entryPoint} imports but is not a BaseAlgorithm subclass: inherit from procvision_algorithm_sdk.BaseAlgorithm`)
      : pass("entry_import", `${entryPoint} imported: ${generation}, ${API[generation]} (Python ${python.interpreter.version}${sdkNote(python)})`
        + (worker.setupError ? `; setup() raised ${worker.setupError}: logged, and the worker went on without it, as a station's does` : "")));
    const info = worker.info;
    const infoPids = Array.isArray(info.supported_pids) ? info.supported_pids.filter((p): p is string => typeof p === "string") : [];
    const manifestPids = fields.supported_pids;
    const planned = generation === "G1"
      ? g1InfoChecks({ raw, fields, manifest, info, infoPids, entryPoint })
      : executeOnlyPlan({ raw, manifest, manifestPids, generation });
    checks.push(...planned.checks);
    const { steps } = planned;

    const pid = options.pid ?? manifestPids?.find((p) => infoPids.includes(p)) ?? manifestPids?.[0] ?? infoPids[0] ?? "";
    harness.setImages(image, image);
    const outcomes = await harness.runSteps(steps.map((s) => s.index), {
      pid,
      paramsFor: (step) => smokeParams(steps.find((s) => s.index === step)?.params ?? [], image),
      stepDescFor: (step) => steps.find((s) => s.index === step)?.name || "validate",
      guideInfo: [],
    }, options.callTimeoutMs ?? 30_000);
    checks.push(...resultChecks(outcomes, image));
  } finally {
    await harness.close();
  }
  return checks;
}

/** What entry_import says each generation's class implements. */
const API: Record<Generation, string> = {
  G1: "get_info/pre_execute/execute",
  G2: "execute(step_index, session, user_params, shared_mem_id, image_meta)",
  G3: "execute(step_index, step_desc, cur_image, guide_image, guide_info)",
};

interface SmokeStep {
  index: number;
  /** Sent as a G3 `step_desc`. */
  name: string;
  params: Parameters<typeof smokeParams>[0];
}

interface Plan {
  checks: Check[];
  steps: SmokeStep[];
}

/** G1: get_info() against the manifest; the smoke run covers every step get_info() declares. */
function g1InfoChecks(input: { raw: Record<string, unknown>; fields: ManifestFields; manifest: Manifest | undefined; info: Record<string, unknown>;
  infoPids: string[]; entryPoint: string }): Plan {
  const { raw, fields, info, infoPids } = input;
  const checks: Check[] = [pass("get_info", `get_info() returned ${Object.keys(info).join(", ") || "an empty dict"}`)];
  const infoSteps = Array.isArray(info.steps) ? info.steps : [];
  const stepSchema = validateManifest({ ...raw, steps: info.steps ?? [] });
  const stepIssues = stepSchema.ok ? [] : stepSchema.errors.filter((e) => e.path.startsWith("steps"));
  checks.push(stepIssues.length === 0 ? pass("step_schema", `${infoSteps.length} step(s) with valid params`)
    : fail("step_schema", stepIssues.map((e) => `get_info().${e.path}: ${e.message}`).join("; ")));

  const manifestPids = fields.supported_pids;
  checks.push(manifestPids === undefined
    ? fail("supported_pids_match", `manifest.json lists no supported_pids, but ${input.entryPoint} is a G1 algorithm (get_info/pre_execute), ` +
      `which serves only the PIDs it declares: add "supported_pids": [${infoPids.map((p) => JSON.stringify(p)).join(", ")}] to manifest.json`)
    : sameSet(infoPids, manifestPids) ? pass("supported_pids_match", manifestPids.join(", "))
      : fail("supported_pids_match", `manifest says [${manifestPids.join(", ")}], get_info() says [${infoPids.join(", ")}]`));

  const mismatch = (["name", "version"] as const).filter((k) => String(info[k]) !== String(fields[k]));
  checks.push(mismatch.length === 0 ? pass("info_name_version_match", `${fields.name} ${fields.version}`)
    : fail("info_name_version_match", mismatch.map((k) => `${k}: manifest "${fields[k]}", get_info() "${String(info[k])}"`).join("; ")));

  const declared = stepSchema.ok ? stepSchema.manifest.steps ?? [] : input.manifest?.steps ?? [];
  const indices = infoSteps.length > 0 ? infoSteps.map((s, i) => (typeof (s as { index?: unknown }).index === "number" ? (s as { index: number }).index : i + 1)) : [1];
  return { checks, steps: indices.map((index) => ({ index, name: "", params: declared.find((s) => s.index === index)?.params ?? [] })) };
}

/**
 * G2/G3: no get_info, so nothing to hold against the manifest; supported_pids_match only says what the manifest lists.
 * The smoke run covers each manifest step (step 1 when it lists none, as the original 0.3 validate did).
 */
function executeOnlyPlan(input: { raw: Record<string, unknown>; manifest: Manifest | undefined; manifestPids: string[] | undefined; generation: Generation }): Plan {
  const { manifestPids, generation } = input;
  const checks = manifestPids === undefined ? []
    : [pass("supported_pids_match", `${manifestPids.join(", ")} (a ${generation} algorithm takes whatever PID it is given)`)];
  const declared = manifestSteps(input.raw);
  const steps = (declared.length > 0 ? declared : [{ index: 1, name: "" }])
    .map((s) => ({ ...s, params: input.manifest?.steps?.find((m) => m.index === s.index)?.params ?? [] }));
  return { checks, steps };
}

function sdkNote(python: ProjectPython): string {
  if (!python.lent) return "";
  return python.shadowed ? `, bundled SDK in place of the installed procvision_algorithm_sdk ${python.shadowed}` : ", bundled SDK";
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n").filter((l) => l.trim() !== "");
  const last = lines.at(-1) ?? "";
  try {
    const parsed = JSON.parse(last) as { message?: unknown; error?: unknown };
    return [parsed.message, parsed.error].filter((v) => typeof v === "string").join(": ");
  } catch {
    return last;
  }
}
