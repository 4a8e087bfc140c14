import { spawn, type ChildProcessByStdio } from "node:child_process";
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

/** Spawns `python -m procvision_algorithm_sdk.adapter` with the worker environment; the caller speaks the protocol. */
export function spawnAdapter(launch: AdapterLaunch): AdapterChild {
  return spawn(
    launch.python,
    ["-m", "procvision_algorithm_sdk.adapter", "--entry", launch.entryPoint, "--max-frame-bytes", String(launch.maxFrameBytes)],
    {
      cwd: launch.cwd,
      env: buildWorkerEnv(process.env, {
        ...(launch.pythonPath ? { pythonPath: launch.pythonPath } : {}),
        ...(launch.env ? { extra: launch.env } : {}),
      }),
      stdio: ["pipe", "pipe", "pipe"],
      windowsHide: true,
    },
  );
}

export function sameLaunch(a: AdapterLaunch, b: AdapterLaunch): boolean {
  const key = (l: AdapterLaunch) => JSON.stringify([l.python, l.entryPoint, l.cwd, l.maxFrameBytes, l.pythonPath ?? [], l.env ?? {}]);
  return key(a) === key(b);
}
