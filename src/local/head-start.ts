import { readFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { DEFAULT_MAX_FRAME_BYTES } from "../protocol/frame-codec.js";
import { candidateInterpreter } from "../python/project-python.js";
import { bundledSdkSource } from "../sdk-bundle.js";
import { sameLaunch, spawnAdapter, type AdapterChild, type AdapterLaunch } from "../worker/adapter-process.js";

/**
 * The author's loop (`validate`, `run`) is a short process whose longest wait is Python importing numpy and the
 * algorithm. So the command spawns the adapter first, while its own modules load and the interpreter is probed; the
 * harness adopts that process when it would launch the very same one. A process not adopted (another launch, or it
 * already ended: the harness then starts one itself and reports what went wrong) ends with the command.
 */
let early: { launch: AdapterLaunch; child: AdapterChild; spawnedAt: number; failed: boolean } | undefined;

export interface ProjectLaunchInput {
  projectDir: string;
  /** manifest.json to read the entry point from (default: in the project). */
  manifestPath?: string;
  /** `--python`. */
  python?: string;
  /** `--entry`, already checked. */
  entryPoint?: string;
}

/** Spawns the adapter the harness will want for this project; does nothing when the manifest cannot tell. */
export function headStart(input: ProjectLaunchInput): void {
  discardHeadStart();
  const manifestPath = input.manifestPath ?? path.join(input.projectDir, "manifest.json");
  let entryPoint = input.entryPoint;
  try {
    entryPoint ??= (JSON.parse(readFileSync(manifestPath, "utf8")) as { entry_point?: unknown }).entry_point as string | undefined;
  } catch {
    return; // the checks report the manifest
  }
  if (typeof entryPoint !== "string" || entryPoint === "") return;
  const launch = projectLaunch(path.dirname(manifestPath), entryPoint, candidateInterpreter(input.projectDir, input.python)[0]);
  const child = spawnAdapter(launch);
  const started = { launch, child, spawnedAt: performance.now(), failed: false };
  child.on("error", () => { started.failed = true; });
  early = started;
}

/** How the local harness starts a project's adapter: its folder first on sys.path, the bundled SDK on PYTHONPATH. */
function projectLaunch(cwd: string, entryPoint: string, python: string): AdapterLaunch {
  return { python, entryPoint, cwd, maxFrameBytes: DEFAULT_MAX_FRAME_BYTES, pythonPath: [bundledSdkSource()] };
}

/** The head-started process if it is this launch and still running; otherwise none (and the early one is ended). */
export function adoptHeadStart(launch: AdapterLaunch): { child: AdapterChild; spawnedAt: number } | undefined {
  const found = early;
  if (!found) return undefined;
  early = undefined;
  const alive = !found.failed && found.child.pid !== undefined && found.child.exitCode === null && found.child.signalCode === null;
  if (alive && sameLaunch(found.launch, launch)) return { child: found.child, spawnedAt: found.spawnedAt };
  end(found.child);
  return undefined;
}

/** Ends a head-started process nobody adopted (the command failed before it started its harness). */
export function discardHeadStart(): void {
  if (early) end(early.child);
  early = undefined;
}

function end(child: AdapterChild): void {
  child.stdin.destroy();
  child.stdout.destroy();
  child.stderr.destroy();
  child.kill();
}
