import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { setFlagsFromString } from "node:v8";
import { buildApi } from "../api/server.js";
import { ensureToken } from "../api/token.js";
import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { lockWithin, type LockHandle } from "../store/lock.js";
import { loadRunnerConfig, parseRunnerConfig } from "../runner/config.js";
import { Runner } from "../runner/runner.js";
import type { LineLog } from "../supervisor/types.js";
import { RUNNER_JSON } from "./client.js";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * `procvision-runner serve`: opens the store (recovering any half-done install), starts the API on loopback unless
 * told otherwise, announces itself in `<root>/runner.json`, and on SIGINT/SIGTERM stops workers cleanly.
 */
/** How long a stopping runner waits for the HTTP requests it is answering. */
const HTTP_DRAIN_MS = 30_000;

export async function serve(o: { root: string; host?: string; port: string; config?: string }): Promise<void> {
  const root = path.resolve(o.root);
  await mkdir(root, { recursive: true });
  const configFile = o.config ?? (existsSync(path.join(root, "runner_config.json")) ? path.join(root, "runner_config.json") : undefined);
  const config = configFile ? await loadRunnerConfig(configFile) : parseRunnerConfig({});
  const host = o.host ?? "127.0.0.1";
  if (!LOOPBACK.has(host)) {
    process.stderr.write(`warning: binding ${host} exposes the runner to the network; reads need no token, and mutations need the token in ${path.join(root, "token")}\n`);
  }
  const port = Number(o.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ProcVisionError(ErrorCode.invalid_params, `--port must be 0–65535, got ${o.port}`, { hint: "0 picks a free port (runner.json says which)" });
  }
  const served = await claimRoot(root);

  const log: LineLog = (line, level = "info") => process.stderr.write(`${new Date().toISOString()} ${level} ${line}\n`);
  const runner = await Runner.open({ root, config, log }).catch(async (err: unknown) => {
    await served.release();
    throw err;
  });
  const token = await ensureToken(root);
  // The runner's log: what the API logs (denied requests, failures) leaves the station with telemetry too.
  const app = await buildApi({ runner, token, log: runner.log });
  const address = await app.listen({ host, port }).catch(async (err: NodeJS.ErrnoException) => {
    await runner.close();
    await served.release();
    if (err.code !== "EADDRINUSE") throw err;
    throw new ProcVisionError(ErrorCode.invalid_params, `port ${port} on ${host} is in use`, {
      hint: "pass another --port (0 picks a free one), or stop what listens there",
    });
  });
  // Off during start-up (see main.ts).
  setFlagsFromString("--sparkplug");
  setFlagsFromString("--opt");
  await writeFile(path.join(root, RUNNER_JSON), `${JSON.stringify({ url: address, pid: process.pid, root }, null, 2)}\n`);
  process.stdout.write(`listening on ${address}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    runner.log(`${signal}: stopping`);
    // New requests are refused (503) while the running ones finish: only then do the workers stop. A request that
    // takes longer than HTTP_DRAIN_MS (a big install) is cut.
    const cut = setTimeout(() => app.server.closeAllConnections(), HTTP_DRAIN_MS);
    await app.close();
    clearTimeout(cut);
    await runner.close();
    await rm(path.join(root, RUNNER_JSON), { force: true });
    await served.release();
    log("stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

/**
 * One runner per root: a second one would start its own workers on the same runner.db and, when it exits, delete the
 * first one's runner.json. `serve.lock` holds the serving process's PID (a dead one's lock is taken over), claimed
 * atomically, so two started at the same moment cannot both pass.
 */
async function claimRoot(root: string): Promise<LockHandle> {
  // A runner stopped just before may still be exiting: it is given a moment.
  const got = await lockWithin(path.join(root, SERVE_LOCK), 3_000);
  if ("release" in got) return got;
  const announced = await readFile(path.join(root, RUNNER_JSON), "utf8").then((t) => (JSON.parse(t) as { url?: unknown }).url, () => undefined);
  throw new ProcVisionError(ErrorCode.invalid_params, `${root} is already served by runner ${got.heldBy || "(starting)"}${typeof announced === "string" ? ` at ${announced}` : ""}`, {
    hint: "use that runner (procvision-runner status), stop it first, or give this one another --root",
  });
}

const SERVE_LOCK = "serve.lock";
