import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Manifest } from "../../src/manifest/index.js";
import { planBinding, planPrune, planRollback } from "../../src/store/decisions.js";
import { acquireLock, tryLock } from "../../src/store/lock.js";
import { SerialQueue } from "../../src/store/queue.js";
import type { Binding, HistoryEntry, PackageRecord } from "../../src/store/repository.js";
import { codeOf, errorOf } from "../helpers/throws.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-store-decisions-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const manifest = (name: string, pids: string[]): Manifest => ({ name, version: "1.0", entry_point: "m:C", supported_pids: pids }) as Manifest;

function pkg(name: string, version: string, pids = ["p1", "p2"]): PackageRecord {
  return {
    name, version, state: "installed", manifest: { ...manifest(name, pids), version }, dir: `/x/${name}/${version}`, zip_path: null, source_zip: null,
    zip_sha256: null, started_at: "", installed_at: "", validation: null, warnings: [], size_bytes: 0, operator: "t",
  };
}

const bound = (pid: string, name: string, version: string): [string, Binding] => [pid, { pid, name, version, since: "" }];

describe("planBinding", () => {
  const a1 = pkg("a", "1");
  it("activates unbound PIDs and skips ones already bound to the target", () => {
    const plan = planBinding("activate", a1, ["p1", "p2", "p1"], new Map([bound("p2", "a", "1")]));
    expect(plan).toEqual({ changes: [{ pid: "p1", from: null }], unchanged: ["p2"] });
  });
  it("rejects PIDs outside supported_pids with 2006 naming them", () => {
    const err = errorOf(() => planBinding("activate", a1, ["p1", "p9"], new Map()));
    expect(err.code).toBe("2006");
    expect(err.message).toMatch(/does not support PID p9 \(supported_pids: p1, p2\)/);
  });
  it("activate refuses a PID bound to another package or version (2006, use switch); switch moves it", () => {
    const current = new Map([bound("p1", "b", "1"), bound("p2", "a", "0.9")]);
    const err = errorOf(() => planBinding("activate", a1, ["p1", "p2"], current));
    expect(err.code).toBe("2006");
    expect(err.message).toMatch(/p1 → b 1, p2 → a 0\.9/);
    expect(err.hint).toMatch(/switch/);
    expect(planBinding("switch", a1, ["p1", "p2"], current).changes).toEqual([
      { pid: "p1", from: { name: "b", version: "1" } }, { pid: "p2", from: { name: "a", version: "0.9" } },
    ]);
  });
  it("no PIDs → 2006", () => expect(codeOf(() => planBinding("switch", a1, [], new Map()))).toBe("2006"));
});

describe("planRollback", () => {
  const change = (pid: string, previous: [string, string] | null): HistoryEntry => ({
    id: 1, time: "", pid, name: "a", version: "2", previous_name: previous?.[0] ?? null, previous_version: previous?.[1] ?? null, action: "switch", operator: "t",
  });
  it("goes to the binding before the latest change", () => {
    expect(planRollback(["p1"], new Map([["p1", change("p1", ["a", "1"])]]))).toEqual(new Map([["p1", { name: "a", version: "1" }]]));
  });
  it("3006 when there is no earlier binding", () => {
    const err = errorOf(() => planRollback(["p1", "p2"], new Map([["p1", change("p1", ["a", "1"])], ["p2", change("p2", null)]])));
    expect(err.code).toBe("3006");
    expect(err.message).toMatch(/PID p2/);
  });
});

describe("planPrune", () => {
  const v = (version: string, t: string) => ({ version, installed_at: `2026-01-01T00:00:0${t}.000Z` });
  it("keeps the newest keep_versions by install time, never the new one or protected ones", () => {
    const versions = [v("1.0", "1"), v("1.1", "2"), v("1.2", "3"), v("0.9-hotfix", "4")];
    expect(planPrune(versions, 2, "0.9-hotfix", new Set())).toEqual(["1.1", "1.0"]);
    expect(planPrune(versions, 2, "0.9-hotfix", new Set(["1.0"]))).toEqual(["1.1"]);
    expect(planPrune(versions, 5, "0.9-hotfix", new Set())).toEqual([]);
    expect(planPrune(versions, 1, "1.0", new Set())).toEqual(["0.9-hotfix", "1.2", "1.1"]);
  });

  it("prunes invalid versions before installed ones, newest or not", () => {
    const versions = [v("1.2", "1"), v("1.3", "2"), { ...v("6.1", "3"), state: "invalid" }, { ...v("6.2", "4"), state: "invalid" }, v("5.4", "5")];
    expect(planPrune(versions, 3, "5.4", new Set())).toEqual(["6.2", "6.1"]);
    expect(planPrune(versions, 4, "5.4", new Set())).toEqual(["6.1"]);
  });
});


describe("SerialQueue", () => {
  it("runs jobs one at a time, in order, past failures", async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    const job = (name: string, ms: number, fail = false) => q.run(async () => {
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    });
    const results = await Promise.allSettled([job("a", 30), job("b", 5, true), job("c", 1)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
  });
});

describe("install lock", () => {
  it("is exclusive, reclaimed from a dead owner, and waited for while its owner lives", async () => {
    const file = path.join(work, "install.lock");
    const first = await tryLock(file);
    expect("release" in first).toBe(true);
    expect(await tryLock(file)).toEqual({ heldBy: process.pid });
    if ("release" in first) await first.release();
    expect(existsSync(file)).toBe(false);

    // A live other process holds it: acquire waits, then takes it over once that process dies.
    const holder = spawn("sleep", ["30"], { stdio: "ignore" });
    writeFileSync(file, `${holder.pid}\n`);
    await expect(acquireLock(file, 300, 50)).rejects.toMatchObject({ code: "2005", message: new RegExp(`pid ${holder.pid}`) });
    const waiting = acquireLock(file, 10_000, 50);
    holder.kill("SIGKILL");
    await new Promise((r) => holder.once("exit", r));
    const got = await waiting;
    expect(readFileSync(file, "utf8").trim()).toBe(String(process.pid));
    await got.release();
  });

  it("is taken from a killed owner its parent has not reaped yet (a zombie still answers signal 0)", async () => {
    const file = path.join(work, "zombie.lock");
    // `sleep 0.05` ends while its parent, exec'd into `sleep 30`, never waits for it: a zombie.
    const parent = spawn("sh", ["-c", "sleep 0.05 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      const zombie = Number((await new Promise<Buffer>((resolve) => parent.stdout.once("data", resolve))).toString().trim());
      await expect.poll(() => readFileSync(`/proc/${zombie}/stat`, "utf8").split(") ")[1]?.[0], { timeout: 10_000, interval: 20 }).toBe("Z");
      expect(() => process.kill(zombie, 0)).not.toThrow();
      writeFileSync(file, `${zombie}\n`);
      const got = await tryLock(file);
      expect("release" in got).toBe(true);
      if ("release" in got) await got.release();
    } finally {
      parent.kill("SIGKILL");
    }
  });
});
