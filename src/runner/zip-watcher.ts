import { watch, type FSWatcher } from "node:fs";
import { readdir, rename, stat } from "node:fs/promises";
import path from "node:path";
import { isProcVisionError } from "../errors/index.js";
import { sha256File } from "../offline-package/index.js";
import type { LineLog } from "../supervisor/types.js";

export interface DroppedZip {
  name: string;
  size: number;
  mtimeMs: number;
}

/** A file's identity for "have we handled it": a rewritten file (new size or time) is looked at again. */
const identity = (f: DroppedZip) => `${f.name}\u0000${f.size}\u0000${f.mtimeMs}`;

/** How long a dropped file must keep its size and time before it is installed: a slow copy pauses between writes. */
export const QUIET_MS = 5_000;

/**
 * Which dropped files to look at now: zips not handled before whose size and time have not changed for `quietMs`
 * (a copy still being written, or a preallocated file being filled, is left for a later scan), and when each file
 * was first seen as it is now. Hidden files and folders (uploads in progress) are skipped.
 */
export function settledNewZips(firstSeen: ReadonlyMap<string, number>, current: readonly DroppedZip[], handled: ReadonlySet<string>, now: number,
  quietMs = QUIET_MS): { ready: DroppedZip[]; firstSeen: Map<string, number> } {
  const seen = new Map(current.map((f) => [identity(f), firstSeen.get(identity(f)) ?? now]));
  const ready = current.filter((f) => f.name.endsWith(".zip") && !f.name.startsWith(".") && !handled.has(identity(f)) && now - seen.get(identity(f))! >= quietMs);
  return { ready, firstSeen: seen };
}

async function scan(dir: string): Promise<DroppedZip[]> {
  const out: DroppedZip[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const s = await stat(path.join(dir, entry.name)).catch(() => undefined);
    if (s) out.push({ name: entry.name, size: s.size, mtimeMs: s.mtimeMs });
  }
  return out;
}

export interface ZipWatcherOptions {
  dir: string;
  /** sha256 of zips the registry already knows (archived copies, earlier installs): not installed again. */
  known: () => ReadonlySet<string>;
  install: (file: string) => Promise<void>;
  log: LineLog;
  intervalMs?: number;
  /** See QUIET_MS. */
  quietMs?: number;
}

/**
 * Drop-in installs (`watch_zips`): a zip copied into zips/ is installed once it has stopped changing. fs.watch wakes
 * the scan early; a slow poll covers file systems where it does not fire. Each file is handled once; a failed install
 * is logged and audited by the runner, and a refused package is renamed `<name>.zip.rejected` for the operator.
 */
export class ZipWatcher {
  readonly #handled = new Set<string>();
  #firstSeen = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #watcher: FSWatcher | undefined;
  #running: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(private readonly options: ZipWatcherOptions) {}

  start(): void {
    const interval = this.options.intervalMs ?? 1000;
    this.#timer = setInterval(() => this.poke(), interval);
    this.#timer.unref();
    try {
      this.#watcher = watch(this.options.dir, () => this.poke());
      this.#watcher.unref();
    } catch {
      // polling alone still works
    }
    this.poke();
  }

  /** Scans now (after the scan in progress). */
  poke(): void {
    this.#running = this.#running.then(() => this.scanOnce()).catch((err: unknown) => this.options.log(`zips/ watch: ${(err as Error).message}`, "warn"));
  }

  private async scanOnce(): Promise<void> {
    if (this.#closed) return;
    const { ready, firstSeen } = settledNewZips(this.#firstSeen, await scan(this.options.dir), this.#handled, Date.now(), this.options.quietMs);
    this.#firstSeen = firstSeen;
    for (const zip of ready) {
      if (this.#closed) return;
      this.#handled.add(identity(zip));
      const file = path.join(this.options.dir, zip.name);
      if (this.options.known().has((await sha256File(file)).sha256)) {
        // Said once per file and start: an operator who dropped a copy of an installed version sees why nothing happened.
        this.options.log(`zips/: ${zip.name} is already installed (same sha256): skipped`);
        continue;
      }
      this.options.log(`zips/: installing dropped ${zip.name}`);
      try {
        await this.options.install(file);
      } catch (err) {
        // A package refused for what it is (2001–2004, 2008, or another build of a version already installed) would be
        // refused again at every start: it is renamed out of the watch, and stays for the operator to look at. Other
        // failures (a busy lock, a full disk) may pass.
        const refused = isProcVisionError(err) && (/^200[1-48]$/.test(err.code) || err.details?.duplicate === true);
        if (refused) await rename(file, `${file}.rejected`).catch(() => undefined);
        this.options.log(`zips/: ${zip.name} was not installed${refused ? ` (renamed ${zip.name}.rejected)` : ""}: ${(err as Error).message}`, "warn");
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#watcher?.close();
    await this.#running;
  }
}
