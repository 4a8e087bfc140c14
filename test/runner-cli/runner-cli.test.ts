import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRunnerCli, serveRunner, type Served } from "../helpers/cli.js";
import { EXAMPLE, exampleZip, withoutSums } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-runner-cli-"));
const root = path.join(work, "root");
let server: Served;
let url: string;
let v1: string;
let v2: string;
let broken: string;
let slow: string;

/** A client command of the built procvision-runner against the server, as an operator runs it. */
const runner = (args: string[]) => runRunnerCli(args);

beforeAll(async () => {
  [v1, v2, broken, slow] = await Promise.all([exampleZip(work, { version: "1.0" }), exampleZip(work, { version: "1.1" }), exampleZip(work, {
    name: "broken-algo", version: "0.1",
    mutate: (dir) => {
      const main = path.join(dir, "algorithm_example", "main.py");
      writeFileSync(main, readFileSync(main, "utf8").replace(/^VERSION = .*$/m, 'VERSION = "9.9-not-the-manifest"'));
    },
  }), exampleZip(work, {
    name: "slow-algo", version: "1.0", pids: ["p009"],
    mutate: (dir) => {
      const main = path.join(dir, "algorithm_example", "main.py");
      writeFileSync(main, readFileSync(main, "utf8").replace("        started = time.perf_counter()\n", "        time.sleep(float(user_params.get('exposure', 0)) / 8)\n        started = time.perf_counter()\n"));
    },
  })]);
  server = await serveRunner(root);
  url = server.url;
}, 120_000);

afterAll(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

const R = () => ["--root", root];

describe("procvision-runner", { timeout: 180_000 }, () => {
  it("serve writes runner.json (url, pid) and a 0600 token", () => {
    const info = JSON.parse(readFileSync(path.join(root, "runner.json"), "utf8")) as { url: string; pid: number };
    expect(info).toMatchObject({ url, pid: server.process.pid });
    expect(readFileSync(path.join(root, "token"), "utf8").trim().length).toBeGreaterThan(20);
  });

  it("install, list, activate, inspect, switch, rollback, deactivate, uninstall — human and --json", async () => {
    const installed = await runner(["install", v1, ...R(), "--operator", "ops-bob"]);
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toBe("✓ installed algorithm-example 1.0 (installed)\n");
    // What the runner warns about is said under the ✓, not only in --json (here: a zip built without SHA256SUMS).
    const unsummed = await runner(["install", await withoutSums(v2, path.join(work, "v1.1-no-sums.zip")), ...R()]);
    expect(unsummed.code, unsummed.stderr).toBe(0);
    expect(unsummed.stdout).toMatch(/^✓ installed algorithm-example 1\.1 \(installed\)\n {2}! .*SHA256SUMS/);
    expect((await runner(["list", ...R(), "--json"])).json).toEqual(expect.arrayContaining([expect.objectContaining({ version: "1.1", state: "installed" })]));

    const again = await runner(["install", v1, ...R()]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/✗ \[2005\]/);
    const againJson = await runner(["install", v1, ...R(), "--json"]);
    expect(againJson.json).toMatchObject({ error_code: "2005" });

    const list = await runner(["list", ...R()]);
    expect(list.stdout).toMatch(/^NAME +VERSION +STATE +PIDS/m);
    expect(list.stdout).toMatch(/algorithm-example +1\.0 +installed/);
    expect((await runner(["list", ...R(), "--json"])).json).toHaveLength(2);

    expect((await runner(["activate", "algorithm-example", "1.0", "--pids", "p001,p002", ...R()])).code).toBe(0);
    const conflict = await runner(["activate", "algorithm-example", "1.1", "--pids", "p001", ...R()]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/\[2006\]/);

    const inspected = await runner(["inspect", "--pid", "p001", "--image", path.join(EXAMPLE, "sample.png"), ...R()]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toMatch(/algorithm-example 1\.0/);
    expect(inspected.stdout).toMatch(/✓ pre_execute +OK/);
    expect(inspected.stdout).toMatch(/execute +OK → (OK|NG)/);
    const inspectedJson = await runner(["inspect", "--pid", "p001", "--image", path.join(EXAMPLE, "sample.png"), "--step", "2", "--method", "execute",
      "--params", JSON.stringify({ threshold: 0.8 }), ...R(), "--json"]);
    expect(inspectedJson.json).toMatchObject({ version: "1.0", execute: { status: "OK" } });
    const badParams = await runner(["inspect", "--pid", "p001", "--image", path.join(EXAMPLE, "sample.png"), "--step", "2", "--params", "{\"threshold\": 7}", ...R()]);
    expect(badParams.code).toBe(1);
    expect(badParams.stderr).toMatch(/\[1006\].*threshold/);
    // The request succeeds but the algorithm's call answers ERROR (a roi off the image): exit 1, as `procvision-cli run`.
    const offImage = await runner(["inspect", "--pid", "p001", "--image", path.join(EXAMPLE, "sample.png"), "--method", "execute",
      "--params", JSON.stringify({ roi: { x: 100_000, y: 0, width: 10, height: 10 } }), ...R()]);
    expect(offImage.code).toBe(1);
    expect(offImage.stdout).toMatch(/✗ execute +ERROR \[1006\] "roi/);

    // A guide image with step_desc and guide_info (@file): the G1 example ignores them, the record says a guide came along.
    const sample = path.join(EXAMPLE, "sample.png");
    const guideInfo = path.join(work, "guide.json");
    writeFileSync(guideInfo, JSON.stringify([{ label: "1", posList: [{ x: 1, y: 2, width: 3, height: 4 }] }]));
    const dual = await runner(["inspect", "--pid", "p001", "--image", sample, "--guide-image", sample, "--step-desc", "check screw 3",
      "--guide-info", `@${guideInfo}`, "--method", "execute", ...R(), "--json"]);
    expect(dual.code, dual.stderr).toBe(0);
    const dualSession = (dual.json as { session_id: string }).session_id;
    const dualRecords = (await runner(["records", "--pid", "p001", "--limit", "1", ...R(), "--json"])).json as { session_id: string; guide_image: boolean }[];
    expect(dualRecords).toMatchObject([{ session_id: dualSession, guide_image: true }]);
    // Filters: the dual inspection was the last OK call; a time after it leaves nothing; a bad time is 1006.
    const okSince = (await runner(["records", "--status", "OK", "--since", new Date(Date.now() - 600_000).toISOString(), ...R(), "--json"])).json as { status: string }[];
    expect(okSince.length).toBeGreaterThanOrEqual(3);
    expect(okSince.every((r) => r.status === "OK")).toBe(true);
    expect((await runner(["records", "--since", String(Date.now() + 60_000), ...R(), "--json"])).json).toEqual([]);
    const badSince = await runner(["audit", "--since", "yesterday", ...R()]);
    expect(badSince.code).toBe(1);
    expect(badSince.stderr).toMatch(/\[1006\] since must be a time/);
    expect(((await runner(["audit", "--action", "activate", ...R(), "--json"])).json as { action: string }[]).map((a) => a.action)).toEqual(["activate", "activate"]);
    for (const [flags, pattern] of [
      [["--guide-info", "[{oops"], /\[1006\] --guide-info is not valid JSON/],
      [["--guide-info", `@${path.join(work, "nope.json")}`], /\[1006\] --guide-info file .*nope\.json not found/],
      [["--guide-image", path.join(work, "nope.png")], /\[1002\] --guide-image .*nope\.png not found/],
    ] as const) {
      const bad = await runner(["inspect", "--pid", "p001", "--image", sample, ...flags, ...R()]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(pattern);
    }

    expect((await runner(["switch", "algorithm-example", "1.1", "--pids", "p001", ...R()])).code).toBe(0);
    const status = await runner(["status", ...R(), "--json"]);
    expect((status.json as { bindings: { pid: string; version: string }[] }).bindings.find((b) => b.pid === "p001")?.version).toBe("1.1");
    expect((await runner(["rollback", "--pids", "p001", ...R()])).code).toBe(0);
    expect((await runner(["deactivate", "--pids", "p001,p002", ...R()])).code).toBe(0);

    const records = await runner(["records", "--pid", "p001", ...R()]);
    expect(records.stdout).toMatch(/^TIME +PID +NAME/m);
    expect(records.stdout).toMatch(/p001 +algorithm-example +1\.0/);
    const audit = await runner(["audit", ...R(), "--json"]);
    expect((audit.json as { operator: string; action: string }[]).some((a) => a.operator === "ops-bob" && a.action === "install")).toBe(true);

    expect((await runner(["validate", "algorithm-example", "1.1", ...R()])).stdout).toMatch(/^✓ validation PASS \(\d+ passed, 0 failed\)$/m);
    expect((await runner(["start", "algorithm-example", "1.1", ...R()])).code).toBe(0);
    expect((await runner(["stop", "algorithm-example", "1.1", ...R()])).code).toBe(0);
    expect((await runner(["uninstall", "algorithm-example", "1.1", ...R()])).code).toBe(0);
    const gone = await runner(["uninstall", "algorithm-example", "1.1", ...R()]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/\[3006\]/);
  });

  it("install of a package that lands invalid (smoke checks failed) exits 1 with 2005 naming the failed check, never ✓", async () => {
    const human = await runner(["install", broken, ...R()]);
    expect(human.code).toBe(1);
    expect(human.stdout).not.toMatch(/✓/);
    expect(human.stderr).toMatch(/✗ \[2005\] broken-algo 0\.1 installed as invalid: its smoke checks failed \(info_name_version_match: /);
    expect(human.stderr).toMatch(/hint: .*--force/);
    const json = await runner(["install", broken, "--force", ...R(), "--json"]);
    expect(json.code).toBe(1);
    expect(json.json).toMatchObject({ error_code: "2005", message: expect.stringMatching(/installed as invalid/) });
    const validated = await runner(["validate", "broken-algo", "0.1", ...R()]);
    expect(validated.code).toBe(1);
    expect(validated.stdout).toMatch(/^✗ validation FAIL \(\d+ passed, 1 failed\)\n {2}✗ info_name_version_match: /m);
    const started = await runner(["start", "broken-algo", "0.1", ...R()]);
    expect(started.code).toBe(1);
    expect(started.stderr).toMatch(/✗ \[2006\] broken-algo 0\.1 is invalid: it failed its smoke checks \(info_name_version_match: /);
  });

  it("--url/--token work without a root; a wrong token is refused with 3007", async () => {
    const token = readFileSync(path.join(root, "token"), "utf8").trim();
    const empty = path.join(work, "elsewhere");
    expect((await runner(["list", "--root", empty, "--url", url, "--token", token, "--json"])).code).toBe(0);
    const wrong = await runner(["activate", "algorithm-example", "1.0", "--pids", "p001", "--root", empty, "--url", url, "--token", "nope"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/\[3007\]/);
    const nowhere = await runner(["list", "--root", empty]);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toMatch(/runner\.json/);
  });

  it("serve refuses a bad runner_config.json naming the key, and a bad port (exit 1)", async () => {
    const config = path.join(work, "bad-config.json");
    writeFileSync(config, JSON.stringify({ execute_timout_ms: 5, instances: 0 }));
    const bad = await runner(["serve", "--root", path.join(work, "other-root"), "--port", "0", "--config", config]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/\[1006\][^\n]*unknown key "execute_timout_ms"/);
    expect(bad.stderr).toMatch(/instances: /);
    const port = await runner(["serve", "--root", path.join(work, "other-root"), "--port", "99999"]);
    expect(port.code).toBe(1);
    expect(port.stderr).toMatch(/\[1006\] --port must be 0–65535/);
    const taken = await runner(["serve", "--root", path.join(work, "other-root"), "--port", new URL(url).port]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/\[1006\] port \d+ on 127\.0\.0\.1 is in use\n.*hint: pass another --port/);
  });

  it("a second serve on a root that a live runner serves is refused; the first keeps its runner.json", async () => {
    const second = await runner(["serve", ...R(), "--port", "0"]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/\[1006\] .*root is already served by runner \d+ at http:\/\/127\.0\.0\.1:\d+/);
    expect(JSON.parse(readFileSync(path.join(root, "runner.json"), "utf8"))).toMatchObject({ url });
    expect((await runner(["status", ...R()])).code).toBe(0);
    // Two started at the same moment on a fresh root: one serves, the other is refused (the claim is atomic).
    const fresh = path.join(work, "raced-root");
    const both = await Promise.allSettled([serveRunner(fresh), serveRunner(fresh)]);
    const serving = both.filter((r): r is PromiseFulfilledResult<Served> => r.status === "fulfilled").map((r) => r.value);
    try {
      expect(serving).toHaveLength(1);
      expect(String((both.find((r) => r.status === "rejected") as PromiseRejectedResult).reason)).toMatch(/serve exited 1: .*\[1006\] .*is already served by runner/s);
    } finally {
      await Promise.all(serving.map((s) => s.stop()));
    }
    expect(existsSync(path.join(fresh, "serve.lock"))).toBe(false); // released by the graceful stop
  });

  it("SIGTERM stops serve cleanly: the running inspection is answered, exit 0, runner.json removed, no worker left behind, token never logged", async () => {
    await runner(["activate", "algorithm-example", "1.0", "--pids", "p001", ...R()]);
    // A bound version that does not run: the station is degraded, and status says which PIDs (exit 1).
    expect((await runner(["stop", "algorithm-example", "1.0", ...R()])).code).toBe(0);
    const degraded = await runner(["status", ...R()]);
    expect(degraded.code).toBe(1);
    expect(degraded.stdout).toMatch(/^✗ runner degraded .*\n {2}✗ p001: algorithm-example 1\.0 is not running$/m);
    expect((await runner(["start", "algorithm-example", "1.0", ...R()])).code).toBe(0);
    expect((await runner(["status", ...R()])).code).toBe(0);
    expect((await runner(["install", slow, ...R()])).code).toBe(0);
    expect((await runner(["activate", "slow-algo", "1.0", "--pids", "p009", ...R()])).code).toBe(0);
    const workers = ((await runner(["status", ...R(), "--json"])).json as { workers: { pid: number }[] }).workers.map((w) => w.pid);
    expect(workers.length).toBeGreaterThan(0);
    // An open event stream, and an inspection of step 1 whose execute sleeps 1.5 s (exposure 12 / 8), running when SIGTERM comes.
    const events = await fetch(`${url}/events`);
    const form = new FormData();
    form.set("pid", "p009");
    form.set("step_index", "1");
    form.set("method", "execute");
    form.set("user_params", JSON.stringify({ exposure: 12 }));
    form.set("image", new Blob([readFileSync(path.join(EXAMPLE, "sample.png"))]), "sample.png");
    const token = readFileSync(path.join(root, "token"), "utf8").trim();
    const inspection = fetch(`${url}/inspect`, { method: "POST", body: form, headers: { authorization: `Bearer ${token}` } });
    await expect.poll(async () => ((await (await fetch(`${url}/health`)).json()) as { workers: { inflight: number }[] }).workers.some((w) => w.inflight > 0),
      { timeout: 30_000, interval: 20 }).toBe(true);
    const stopped = server.stop();
    const answer = await inspection;
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { execute: { status: string } }).execute.status).toBe("OK");
    expect(await stopped).toBe(0);
    expect(await events.text()).toContain(": procvision events");
    expect(existsSync(path.join(root, "runner.json"))).toBe(false);
    for (const pid of workers) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(server.stderr()).not.toContain(readFileSync(path.join(root, "token"), "utf8").trim());
  });
});
