// Filtering records and the audit trail, as an operator asks for them: `since` is a time (any ISO 8601 form or epoch
// ms) compared as an instant, a bad one is refused with 1006; every filter the API documents narrows the answer.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApi } from "../../src/api/server.js";
import { ensureToken } from "../../src/api/token.js";
import { Runner } from "../../src/runner/runner.js";
import { sinceInstant } from "../../src/runner/since.js";
import { openDb } from "../../src/store/db.js";
import { Repository, type NewInspectionRecord } from "../../src/store/repository.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-record-filters-"));
const root = path.join(work, "root");
let runner: Runner;
let app: FastifyInstance;
let url: string;

const TIMES = ["2026-12-03T19:29:17.999Z", "2026-12-03T19:29:18.000Z", "2026-12-03T19:29:18.500Z", "2026-12-03T19:30:00.000Z"];

const record = (time: string, status: "OK" | "ERROR"): NewInspectionRecord => ({
  time, pid: "p1", session_id: null, step_index: 1, method: "execute", name: "a", version: "1", status, error_code: status === "OK" ? null : "1005",
  result_status: status === "OK" ? "OK" : null, ng_reason: null, defect_count: 0, position_count: 0, calibration_count: 0, latency_ms: 1,
});

beforeAll(async () => {
  // The rows are written as a runner writes them, at known times, before the runner opens its root.
  mkdirSync(root, { recursive: true });
  const db = openDb(path.join(root, "runner.db"));
  const repo = new Repository(db);
  TIMES.forEach((time, i) => repo.addRecord(record(time, i === 2 ? "ERROR" : "OK")));
  db.close();
  runner = await Runner.open({ root, log: () => undefined });
  app = await buildApi({ runner, token: await ensureToken(root), uploadLimitBytes: 1024 * 1024 });
  url = await app.listen({ host: "127.0.0.1", port: 0 });
}, 60_000);

afterAll(async () => {
  await app.close();
  await runner.close();
  rmSync(work, { recursive: true, force: true });
});

const times = async (since: string) => (await runner.records({ since })).map((r) => r.time).reverse();

describe("since", () => {
  it("compares instants: a whole-second time keeps the records later within that second", async () => {
    expect(await times("2026-12-03T19:29:18Z")).toEqual(TIMES.slice(1));
    expect(await times("2026-12-03T19:29:18.5Z")).toEqual(TIMES.slice(2));
  });

  it("reads an offset, a zone-less time as UTC, a date, and epoch milliseconds", async () => {
    expect(await times("2026-12-03T20:29:18+01:00")).toEqual(TIMES.slice(1));
    expect(await times("2026-12-03T14:29:18.0005-0500")).toEqual(TIMES.slice(2));
    expect(await times("2026-12-03 19:29:18")).toEqual(TIMES.slice(1));
    expect(await times("2026-12-03")).toEqual(TIMES);
    expect(await times("2026-12-04")).toEqual([]);
    expect(await times(String(Date.parse("2026-12-03T19:29:18.001Z")))).toEqual(TIMES.slice(2));
  });

  it.each(["yesterday", "2026-13-01", "2026-02-30T00:00:00Z", "2026-12-03T25:00:00Z", "2026-12-03T19:29:18+24:00", "", "2026-12-03Z"])(
    "refuses %j with 1006 and a hint, from the library and over HTTP", async (bad) => {
      await expect(runner.records({ since: bad })).rejects.toMatchObject({ code: "1006", hint: expect.stringMatching(/ISO 8601/) as unknown });
      await expect(runner.audit({ since: bad })).rejects.toMatchObject({ code: "1006" });
      for (const route of ["/records", "/audit"]) {
        const answer = await fetch(`${url}${route}?since=${encodeURIComponent(bad)}`);
        expect(answer.status).toBe(400);
        expect(await answer.json()).toMatchObject({ error_code: "1006", message: expect.stringMatching(/since/) as unknown });
      }
    });

  it("rounds sub-millisecond times up, since is inclusive", () => {
    expect(sinceInstant("2026-12-03T19:29:18.5004Z")).toBe("2026-12-03T19:29:18.501Z");
    expect(sinceInstant("2026-12-03T19:29:18.123Z")).toBe("2026-12-03T19:29:18.123Z");
  });
});

describe("filters over HTTP", () => {
  it("/records?since= and status= narrow the answer", async () => {
    const answer = await fetch(`${url}/records?since=${encodeURIComponent("2026-12-03T19:29:18Z")}&status=OK`);
    expect(answer.status).toBe(200);
    expect((await answer.json() as { time: string }[]).map((r) => r.time).reverse()).toEqual([TIMES[1], TIMES[3]]);
  });

  it("/audit?operator=, action= and outcome= narrow the answer", async () => {
    await runner.deactivate(["nobody"], { operator: "ops-ann" }).catch(() => undefined);
    await runner.rollback(["nobody"], { operator: "ops-bob" }).catch(() => undefined);
    const all = await (await fetch(`${url}/audit`)).json() as { operator: string; action: string; outcome: string }[];
    expect(new Set(all.map((a) => a.operator))).toEqual(new Set(["ops-ann", "ops-bob"]));
    const ann = await (await fetch(`${url}/audit?operator=ops-ann`)).json() as { operator: string; action: string }[];
    expect(ann.map((a) => [a.operator, a.action])).toEqual([["ops-ann", "deactivate"]]);
    const rollbacks = await (await fetch(`${url}/audit?action=rollback&outcome=${all.find((a) => a.action === "rollback")!.outcome}`)).json() as unknown[];
    expect(rollbacks).toHaveLength(1);
    expect((await fetch(`${url}/audit?outcome=maybe`)).status).toBe(400);
  });
});
