import { spawn, type ChildProcessByStdio } from "node:child_process";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { buildWorkerEnv } from "./env.js";

export type AdapterChild = ChildProcessByStdio<Writable, Readable, Readable>;

/** Everything that decides which process an adapter is: two launches with equal fields are interchangeable. */
export interface AdapterLaunch {
  /** The interpreter: an absolute path, or a command on PATH. */
  python: string;
  entryPoint: string;
  cwd: string;
  maxFrameBytes: number;
  pythonPath?: readonly string[];
  env?: Readonly<Record<string, string>>;
}

/**
 * Spawns `python -m procvision_algorithm_sdk.adapter` with the worker environment; the caller speaks the protocol.
 * PROC_ALGO_ROOT names the package root, as the original tools set it (algorithms find their assets by it). On POSIX
 * the worker leads a process group of its own: what the algorithm starts (a helper, a multiprocessing pool) is
 * ended with it (killProcessGroup), and a terminal's Ctrl-C reaches the runner, not its workers behind its back.
 */
export function spawnAdapter(launch: AdapterLaunch): AdapterChild {
  return spawn(
    launch.python,
    ["-m", "procvision_algorithm_sdk.adapter", "--entry", launch.entryPoint, "--max-frame-bytes", String(launch.maxFrameBytes)],
    {
      cwd: launch.cwd,
      env: buildWorkerEnv(process.env, {
        ...(launch.pythonPath ? { pythonPath: launch.pythonPath } : {}),
        extra: { PROC_ALGO_ROOT: path.resolve(launch.cwd), ...launch.env },
      }),
      stdio: ["pipe", "pipe", "pipe"],
      windowsHide: true,
      detached: OWN_PROCESS_GROUP,
    },
  );
}

const OWN_PROCESS_GROUP = process.platform !== "win32";

/**
 * Kills whatever is left of a worker's process group once the worker itself exited: processes the algorithm started
 * would otherwise outlive the runner (contract §7: no orphan processes) and hold the worker's pipes open.
 */
export function killProcessGroup(pid: number | undefined): void {
  if (!OWN_PROCESS_GROUP || pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // ESRCH: the group is empty, nothing was left behind
  }
}

export function sameLaunch(a: AdapterLaunch, b: AdapterLaunch): boolean {
  const key = (l: AdapterLaunch) => JSON.stringify([l.python, l.entryPoint, l.cwd, l.maxFrameBytes, l.pythonPath ?? [], l.env ?? {}]);
  return key(a) === key(b);
}
