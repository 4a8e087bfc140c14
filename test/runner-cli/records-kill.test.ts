// A record of an answered inspection survives `kill -9` of the runner (contract §7: every answered call is recorded).
// A real `procvision-runner serve`, a client doing 25 answered inspections, SIGKILL at once, then runner.db reopened.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveRunner, type Served } from "../helpers/cli.js";
import { EXAMPLE, exampleZip } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-records-kill-"));
const root = path.join(work, "root");
const sample = readFileSync(path.join(EXAMPLE, "sample.png"));
let zip: string;
let server: Served | undefined;

async function serve(): Promise<Served> {
  server = await serveRunner(root);
  return server;
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
  await server?.kill();
  rmSync(work, { recursive: true, force: true });
});

describe("records of answered inspections survive kill -9 of the runner", { timeout: 600_000 }, () => {
  it("3 trials of 25 answered inspections, SIGKILL right after the last answer: 0 records lost", async () => {
    const first = await serve();
    const installed = await first.call("POST", "/algorithms/install", readFileSync(zip), "application/zip");
    expect(installed.status, JSON.stringify(installed.json)).toBe(201);
    const activated = await first.call("POST", "/algorithms/activate", JSON.stringify({ name: "kill-algo", version: "1.0", pids: ["K1"] }), "application/json");
    expect(activated.status, JSON.stringify(activated.json)).toBe(200);
    await first.kill();

    let expected = recordCount();
    const lost: number[] = [];
    for (let trial = 0; trial < 3; trial++) {
      const s = await serve();
      for (let i = 0; i < 25; i++) {
        const form = new FormData();
        form.set("pid", "K1");
        form.set("step_index", "1");
        form.set("image", new Blob([sample]), "sample.png");
        const answer = await s.call("POST", "/inspect", form);
        expect(answer.status, JSON.stringify(answer.json)).toBe(200);
        // Every call the answer carries (pre_execute, execute) is one record.
        expected += ["pre_execute", "execute"].filter((m) => answer.json[m] !== undefined).length;
      }
      await s.kill();
      lost.push(expected - recordCount());
      expected = recordCount();
    }
    expect(lost).toEqual([0, 0, 0]);
  });
});
