import { readFileSync } from "node:fs";
import { open, readFile, rename, rm } from "node:fs/promises";
import { ErrorCode, ProcVisionError } from "../errors/index.js";

/*
 * An exclusive lock file between runner processes sharing a root: created with O_EXCL and holding the owner's PID.
 * A lock whose owner is dead (a SIGKILLed runner) is stale and taken over; no lock-file daemon or heartbeat needed,
 * because all runners of one root live on one machine.
 */

export interface LockHandle {
  release(): Promise<void>;
}

/**
 * Whether `pid` still runs. A SIGKILLed runner whose parent has not reaped it yet (a zombie) still answers signal 0,
 * so on Linux its state in /proc decides: it holds nothing any more.
 */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  return !exited(pid);
}

function exited(pid: number): boolean {
  try {
    // "pid (comm) S ...": the state follows the last ')', since comm may itself hold one.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return /^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
}

async function ownerOf(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(file, "utf8")).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** One attempt: the handle, or the live owner's PID. */
export async function tryLock(file: string): Promise<LockHandle | { heldBy: number }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, "wx", 0o644);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const owner = await ownerOf(file);
    // A file being written right now has no PID yet: treat as held, the caller retries.
    if (owner === undefined) return { heldBy: 0 };
    if (processAlive(owner)) return { heldBy: owner };
    // Stale: move it aside (atomic, so only one taker wins), then retry the exclusive create.
    await rename(file, `${file}.stale-${process.pid}`).then(() => rm(`${file}.stale-${process.pid}`, { force: true }), () => undefined);
  }
  return { heldBy: 0 };
}

/** Waits for the lock, polling, up to `timeoutMs`: the handle, or the owner that still held it then. */
export async function lockWithin(file: string, timeoutMs: number, pollMs = 200): Promise<LockHandle | { heldBy: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await tryLock(file);
    if ("release" in got || Date.now() >= deadline) return got;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Waits for the lock, polling; gives up with 2005 after `timeoutMs`. */
export async function acquireLock(file: string, timeoutMs: number, pollMs = 200): Promise<LockHandle> {
  const got = await lockWithin(file, timeoutMs, pollMs);
  if ("release" in got) return got;
  throw new ProcVisionError(ErrorCode.install_failed, `another runner process${got.heldBy ? ` (pid ${got.heldBy})` : ""} holds the install lock ${file}`, {
    hint: "wait for its install to finish; if no runner is running, delete the lock file",
  });
}
