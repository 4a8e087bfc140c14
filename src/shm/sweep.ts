import { readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { segmentDir } from "./segment.js";

const RUNNER_SEGMENT = /^procvision-(\d+)-/;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive but someone else's. Only ESRCH proves the owner is gone.
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Unlinks segments left by runners that died without cleaning up (`procvision-<pid>-*` with no such pid) and returns
 * their names. A recycled pid keeps its segments until a later sweep: erring towards keeping is safe.
 */
export function sweepStaleSegments(dir: string = segmentDir()): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = Number(RUNNER_SEGMENT.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch (err) {
      // Another runner sweeping at the same time got there first.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return removed;
}
