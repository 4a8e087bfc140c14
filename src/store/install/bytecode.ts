import { spawn, type ChildProcess } from "node:child_process";
import { setPriority } from "node:os";
import { hermeticInstallEnv } from "../../python/venv.js";
import { packageEnv } from "../layout.js";

export interface CompileOutcome {
  dir: string;
  /** Files that did not compile (packages ship such templates and tests): they load from source. */
  warning?: string;
  /** Stopped before it finished (uninstall, runner stop): the rest compiles on first import. */
  stopped: boolean;
  duration_ms: number;
}

interface Running {
  child: ChildProcess;
  done: Promise<CompileOutcome>;
  state: { stopping: boolean };
}

/**
 * Bytecode for a whole installed package, compiled after the install returns. The smoke check already wrote the
 * bytecode of everything a worker imports at start-up (CPython writes it on import), so what is left only speeds
 * up later imports: it runs at low priority on every core, is stopped before its package is removed, and a stop or a
 * crash midway is harmless (each .pyc is written atomically; a missing one is compiled on import).
 */
export class BytecodeCompiler {
  readonly #running = new Map<string, Running>();

  constructor(private readonly onDone: (outcome: CompileOutcome) => void = () => undefined) {}

  start(dir: string, venvPython: string): void {
    if (this.#running.has(dir)) return;
    const started = performance.now();
    const child = spawn(venvPython, ["-m", "compileall", "-q", "-j", "0", dir], {
      env: hermeticInstallEnv(process.env, packageEnv(dir)), stdio: ["ignore", "pipe", "pipe"],
      // A process group of its own: compileall -j forks a pool, and stop() must end all of it.
      detached: process.platform !== "win32",
    });
    try {
      if (child.pid !== undefined) setPriority(child.pid, 10);
    } catch {
      // not allowed here: it compiles at normal priority
    }
    let output = "";
    const collect = (chunk: Buffer): void => {
      if (output.length < 64 * 1024) output += chunk.toString("utf8");
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const state = { stopping: false };
    const done = new Promise<CompileOutcome>((resolve) => {
      const finish = (code: number | null): void => {
        this.#running.delete(dir);
        const first = output.trim().split("\n").find((l) => l.trim() !== "");
        const outcome: CompileOutcome = { dir, stopped: state.stopping, duration_ms: Math.round(performance.now() - started) };
        if (!state.stopping && code !== 0) outcome.warning = `some files did not compile to bytecode (they are loaded from source, slower): ${first ?? `exit ${code}`}`;
        this.onDone(outcome);
        resolve(outcome);
      };
      child.once("error", () => finish(-1));
      child.once("close", finish);
    });
    this.#running.set(dir, { child, done, state });
  }

  /** Whether a compile runs for `dir`. */
  isRunning(dir: string): boolean {
    return this.#running.has(dir);
  }

  /** Waits for `dir`'s compile, if one runs. */
  async whenDone(dir: string): Promise<CompileOutcome | undefined> {
    return this.#running.get(dir)?.done;
  }

  /** Stops `dir`'s compile (before its files are removed) and waits until the process is gone. */
  async stop(dir: string): Promise<void> {
    const running = this.#running.get(dir);
    if (running === undefined) return;
    running.state.stopping = true;
    // The whole group: a pool process left behind would keep writing into a tree being removed.
    try {
      if (process.platform !== "win32" && running.child.pid !== undefined) process.kill(-running.child.pid, "SIGKILL");
      else running.child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await running.done;
  }

  /** Waits for every running compile. */
  async settled(): Promise<void> {
    await Promise.all([...this.#running.values()].map((r) => r.done));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#running.keys()].map((dir) => this.stop(dir)));
  }
}
