import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "./python.js";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is JSON. */
  json: unknown;
}

export const cliMain = path.join(repoRoot, "dist", "bin", "procvision-cli.js");
const runnerMain = path.join(repoRoot, "dist", "bin", "procvision-runner.js");

interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Written to the command's stdin (e.g. for --password-stdin); without it stdin is closed. */
  input?: string;
}

/** Runs the built `procvision-cli` as a user would: a real process, real exit code, real stdout/stderr. */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
  return runBuilt(cliMain, args, options);
}

/** Runs the built `procvision-runner` (client commands, or serve until it exits). */
export function runRunnerCli(args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
  return runBuilt(runnerMain, args, options);
}

/** A running `procvision-runner serve --port 0` on `root`, started as an operator starts it. */
export interface Served {
  process: ChildProcess;
  url: string;
  /** What it wrote to stderr so far. */
  stderr: () => string;
  /** Stops it with SIGTERM (a graceful stop) and resolves with its exit code; idempotent. */
  stop: () => Promise<number | null>;
  /** SIGKILL, resolved once the process is gone. */
  kill: () => Promise<void>;
  /** An HTTP request with the root's token; the answer's body parsed as JSON. */
  call: (method: string, route: string, body?: RequestInit["body"], type?: string) => Promise<{ status: number; json: Record<string, unknown> }>;
}

/** Starts the built `procvision-runner serve` and resolves once it says `listening on <url>`. */
export function serveRunner(root: string, args: readonly string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [runnerMain, "serve", "--root", root, "--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
  const signal = async (name: NodeJS.Signals): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    return exited;
  };
  const call = async (method: string, route: string, body?: RequestInit["body"], type?: string) => {
    const headers: Record<string, string> = { authorization: `Bearer ${readFileSync(path.join(root, "token"), "utf8").trim()}` };
    if (type) headers["content-type"] = type;
    const response = await fetch(`${url}${route}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
  let url = "";
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match?.[1]) {
        url = match[1];
        resolve({ process: child, url, stderr: () => err, stop: () => signal("SIGTERM"), kill: async () => void (await signal("SIGKILL")), call });
      }
    });
    child.on("close", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

function runBuilt(main: string, args: readonly string[], options: RunOptions): Promise<CliRun> {
  if (!existsSync(main)) throw new Error(`${main} missing: run npm run build (npm test does)`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: [options.input !== undefined ? "pipe" : "ignore", "pipe", "pipe"],
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

export interface Report {
  summary: { status: "PASS" | "FAIL"; passed: number; failed: number };
  checks: { name: string; result: "PASS" | "FAIL"; message: string }[];
}

/** The checks of a `validate --json` report by result. */
export function failedChecks(report: unknown): string[] {
  return (report as Report).checks.filter((c) => c.result === "FAIL").map((c) => c.name);
}
