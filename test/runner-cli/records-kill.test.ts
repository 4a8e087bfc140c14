// A record of an answered inspection survives `kill -9` of the runner (contract §7: every answered call is recorded).
// A real `procvision-runner serve`, a client doing 25 answered inspections, SIGKILL at once, then runner.db reopened.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/python.js";
import { EXAMPLE, exampleZip } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-records-kill-"));
const root = path.join(work, "root");
const bin = path.join(repoRoot, "dist", "runner-cli", "main.js");
const sample = readFileSync(path.join(EXAMPLE, "sample.png"));
let zip: string;
let server: ChildProcess | undefined;

interface Served { url: string; token: string; child: ChildProcess }

/** Starts `procvision-runner serve` on the shared root and resolves once it listens. */
async function serve(): Promise<Served> {
  const child = spawn(process.execPath, [bin, "serve", "--root", root, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  server = child;
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.on("close", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return { url, token: readFileSync(path.join(root, "token"), "utf8").trim(), child };
}

async function call(s: Served, method: string, route: string, body?: RequestInit["body"], type?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { authorization: `Bearer ${s.token}` };
  if (type) headers["content-type"] = type;
  const response = await fetch(`${s.url}${route}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** SIGKILL, waiting for the process to be gone. */
async function kill9(child: ChildProcess): Promise<void> {
  const closed = new Promise((r) => child.once("close", r));
  child.kill("SIGKILL");
  await closed;
}

const recordCount = (): number => {
  const db = new Database(path.join(root, "runner.db"));
  try {
    return (db.prepare("SELECT count(*) AS n FROM records").get() as { n: number }).n;
  } finally {
    db.close();
  }
};

beforeAll(async () => {
  zip = await exampleZip(work, { name: "kill-algo", version: "1.0", pids: ["K1"] });
}, 120_000);

afterAll(async () => {
  if (server?.exitCode === null && server.signalCode === null) await kill9(server);
  rmSync(work, { recursive: true, force: true });
});

describe("records of answered inspections survive kill -9 of the runner", { timeout: 600_000 }, () => {
  it("3 trials of 25 answered inspections, SIGKILL right after the last answer: 0 records lost", async () => {
    const first = await serve();
    const installed = await call(first, "POST", "/algorithms/install", readFileSync(zip), "application/zip");
    expect(installed.status, JSON.stringify(installed.json)).toBe(201);
    const activated = await call(first, "POST", "/algorithms/activate", JSON.stringify({ name: "kill-algo", version: "1.0", pids: ["K1"] }), "application/json");
    expect(activated.status, JSON.stringify(activated.json)).toBe(200);
    await kill9(first.child);

    let expected = recordCount();
    const lost: number[] = [];
    for (let trial = 0; trial < 3; trial++) {
      const s = await serve();
      for (let i = 0; i < 25; i++) {
        const form = new FormData();
        form.set("pid", "K1");
        form.set("step_index", "1");
        form.set("image", new Blob([sample]), "sample.png");
        const answer = await call(s, "POST", "/inspect", form);
        expect(answer.status, JSON.stringify(answer.json)).toBe(200);
        // Every call the answer carries (pre_execute, execute) is one record.
        expected += ["pre_execute", "execute"].filter((m) => answer.json[m] !== undefined).length;
      }
      await kill9(s.child);
      lost.push(expected - recordCount());
      expected = recordCount();
    }
    expect(lost).toEqual([0, 0, 0]);
  });
});
