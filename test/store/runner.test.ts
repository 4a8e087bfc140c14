// The runner store end to end through the library: real zips of the example algorithm, real venvs, real pip
// installs from real wheels, real SQLite. One store is shared by the whole file (installs of numpy take seconds), so
// the tests run in order and each builds on the state the previous one left.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcVisionError, Runner, type HostedPackage, type PackageHost } from "../../src/index.js";
import { integrityCheck } from "../../src/store/db.js";
import { generateKeyPair, loadPrivateKey } from "../../src/signing/index.js";
import { exampleZip, SDK_VERSION, withoutSums } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-store-runner-"));
const INSTALL_TIMEOUT = 180_000;

/** Records what the runner asks of the supervisor, and when; can refuse a start or report a version busy. */
class RecordingHost implements PackageHost {
  calls: string[] = [];
  busy = new Set<string>();
  failStart = new Set<string>();
  constructor(private readonly bindingOf: (pid: string) => string) {}
  async ensureRunning(p: HostedPackage): Promise<void> {
    this.calls.push(`start ${p.name} ${p.version} (p001 → ${this.bindingOf("p001")})`);
    expect(existsSync(p.python)).toBe(true);
    expect(p.entryPoint).toBe("algorithm_example.main:AlgorithmExample");
    if (this.failStart.has(`${p.name} ${p.version}`)) throw new ProcVisionError("3001", `${p.name} ${p.version} crashed at start`, { hint: "see its log" });
  }
  readonly #stopWaiters = new Map<string, () => void>();
  async drainAndStop(p: HostedPackage): Promise<void> {
    this.calls.push(`stop ${p.name} ${p.version}`);
    this.#stopWaiters.get(`${p.name} ${p.version}`)?.();
  }
  retire(p: HostedPackage): Promise<void> {
    return this.drainAndStop(p);
  }
  /** Resolves when the runner stops `label` ("name version"); ask before the action that stops it in the background. */
  stopOf(label: string): Promise<void> {
    return new Promise((resolve) => this.#stopWaiters.set(label, resolve));
  }
  inUse(p: HostedPackage): boolean {
    return this.busy.has(`${p.name} ${p.version}`);
  }
}

let runner: Runner;
let host: RecordingHost;
const zips: Record<"a1" | "a2" | "a3" | "b1" | "broken", string> = { a1: "", a2: "", a3: "", b1: "", broken: "" };

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ProcVisionError);
    expect((err as ProcVisionError).hint).toBeTruthy();
    return { code: (err as ProcVisionError).code, message: (err as ProcVisionError).message };
  }
  throw new Error("expected a ProcVisionError");
}

const versionsOf = async (name: string): Promise<string[]> => (await runner.list({ name })).map((p) => p.version).sort();
const binding = async (): Promise<Record<string, string>> => Object.fromEntries((await runner.active()).map((b) => [b.pid, `${b.name} ${b.version}`]));

beforeAll(async () => {
  const keys = generateKeyPair();
  writeFileSync(path.join(work, "signer.key"), keys.privateKeyPem);
  zips.a1 = await exampleZip(work, { version: "1.0" });
  zips.a2 = await exampleZip(work, { version: "1.1", signingKey: loadPrivateKey(path.join(work, "signer.key")) });
  zips.a3 = await exampleZip(work, { version: "1.2" });
  zips.b1 = await withoutSums(await exampleZip(work, { name: "board-check", version: "1.0", pids: ["p001", "p003"] }), path.join(work, "board-check-nosums.zip"));
  zips.broken = await exampleZip(work, {
    name: "broken-algo", version: "0.1",
    mutate: (dir) => {
      const main = path.join(dir, "algorithm_example", "main.py");
      writeFileSync(main, readFileSync(main, "utf8").replace(/^VERSION = .*$/m, 'VERSION = "9.9-not-the-manifest"'));
    },
  });
  let current: Runner | undefined;
  host = new RecordingHost((pid) => {
    const b = current?.repository.binding(pid);
    return b ? `${b.name} ${b.version}` : "none";
  });
  runner = await Runner.open({
    root: path.join(work, "root"), host, operator: "tester", log: () => undefined,
    config: { keep_versions: 2, trusted_keys: [keys.publicKeyPem] },
  });
  current = runner;
}, 60_000);

afterAll(async () => {
  await runner?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("Runner store lifecycle", () => {
  it("installs two zips submitted at once, one after the other", async () => {
    const [a, b] = await Promise.all([runner.install(zips.a1), runner.install(zips.b1)]);
    expect(a.state).toBe("installed");
    expect(b.state).toBe("installed");
    expect(a.warnings).toEqual(["the package is not signed"]);
    expect(b.warnings[0]).toMatch(/no SHA256SUMS/);
    const [ra, rb] = [runner.repository.getPackage("algorithm-example", "1.0")!, runner.repository.getPackage("board-check", "1.0")!];
    expect(rb.started_at >= ra.installed_at!).toBe(true); // serialized: the second began after the first finished
    expect(existsSync(path.join(runner.root, "install.lock"))).toBe(false);
  }, INSTALL_TIMEOUT);

  it("leaves a complete registry row, an archived zip and a venv that imports the example", async () => {
    const [pkg] = await runner.list({ name: "algorithm-example" });
    expect(pkg).toMatchObject({
      name: "algorithm-example", version: "1.0", state: "installed", operator: "tester", active_pids: [],
      dir: path.join(runner.root, "deployed", "algorithm-example", "1.0"),
      zip_path: path.join(runner.root, "zips", "algorithm-example-v1.0-offline.zip"),
      source_zip: zips.a1,
      zip_sha256: createHash("sha256").update(readFileSync(zips.a1)).digest("hex"),
      manifest: { name: "algorithm-example", version: "1.0", entry_point: "algorithm_example.main:AlgorithmExample", supported_pids: ["p001", "p002"] },
      validation: { summary: { status: "PASS", failed: 0 } },
    });
    expect(pkg!.installed_at).toBeTruthy();
    expect(pkg!.size_bytes).toBeGreaterThan(10_000_000);
    expect(readFileSync(pkg!.zip_path!).equals(readFileSync(zips.a1))).toBe(true); // (toEqual on 17 MB buffers exhausts the heap)
    expect(statSync(pkg!.zip_path!).mode & 0o222).toBe(0); // archived read-only

    const python = path.join(pkg!.dir, "venv", "bin", "python");
    const out = execFileSync(python, ["-c", "import algorithm_example.main as m, numpy, procvision_algorithm_sdk; print(m.NAME, m.VERSION, numpy.__version__)"], {
      cwd: pkg!.dir, env: { PATH: process.env.PATH ?? "" }, encoding: "utf8",
    });
    expect(out.trim()).toBe("algorithm-example 1.0 2.2.6");
    expect(existsSync(path.join(pkg!.dir, "venv", "bin", "pip"))).toBe(false); // --without-pip
    expect(readdirSync(path.join(pkg!.dir, "algorithm_example", "__pycache__")).some((f) => f.startsWith("main.cpython-311"))).toBe(true);
    expect(existsSync(path.join(pkg!.dir, "wheels"))).toBe(false); // kept once, in the archived zip
    expect(readFileSync(path.join(pkg!.dir, "venv", "procvision-requirements.txt"), "utf8")).toBe(`numpy==2.2.6\nprocvision_algorithm_sdk==${SDK_VERSION}\n`);
    expect(await runner.audit({ action: "install", target: "algorithm-example 1.0" })).toMatchObject([{ outcome: "ok", operator: "tester" }]);
  });

  it("refuses the same name and version again without force (2005)", async () => {
    const before = runner.repository.getPackage("algorithm-example", "1.0")!;
    const err = await codeOf(runner.install(zips.a1, { operator: "alice" }));
    expect(err.code).toBe("2005");
    expect(err.message).toMatch(/algorithm-example 1\.0 is already installed/);
    expect(runner.repository.getPackage("algorithm-example", "1.0")).toEqual(before);
    expect((await runner.audit({ limit: 1 }))[0]).toMatchObject({ operator: "alice", action: "install", outcome: "failed", error_code: "2005" });
  });

  it("verifies a signed package against trusted_keys, and installs whatever the host's pip settings say", async () => {
    // Either would break the install if it leaked into pip: hashes are required, the index is a dead port.
    const host_ = { PIP_REQUIRE_HASHES: "1", PIP_INDEX_URL: "http://127.0.0.1:9/simple", PYTHONPATH: "/nonexistent" };
    const saved = Object.fromEntries(Object.keys(host_).map((k) => [k, process.env[k]]));
    Object.assign(process.env, host_);
    try {
      const result = await runner.install(zips.a2);
      expect(result).toMatchObject({ state: "installed", signed: "verified", warnings: [] });
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }, INSTALL_TIMEOUT);

  it("activate: binds supported PIDs after starting the version; 2006 for the rest; 3006 for unknown packages", async () => {
    expect(await runner.activate("algorithm-example", "1.0", ["p001"])).toEqual([{ pid: "p001", to: { name: "algorithm-example", version: "1.0" }, from: null }]);
    expect(host.calls).toEqual(["start algorithm-example 1.0 (p001 → none)"]);
    expect(await binding()).toEqual({ p001: "algorithm-example 1.0" });
    expect(await runner.activate("algorithm-example", "1.0", ["p001"])).toEqual([]); // already so

    expect((await codeOf(runner.activate("algorithm-example", "1.0", ["p009"]))).message).toMatch(/does not support PID p009/);
    const conflict = await codeOf(runner.activate("board-check", "1.0", ["p001"]));
    expect(conflict).toMatchObject({ code: "2006", message: expect.stringMatching(/p001 → algorithm-example 1\.0/) });
    expect((await codeOf(runner.activate("algorithm-example", "1.1", ["p001"]))).code).toBe("2006");
    expect((await codeOf(runner.activate("nope", "1.0", ["p001"]))).code).toBe("3006");

    host.failStart.add("board-check 1.0");
    expect((await codeOf(runner.activate("board-check", "1.0", ["p003"]))).code).toBe("3001");
    host.failStart.clear();
    expect(await binding()).toEqual({ p001: "algorithm-example 1.0" }); // a version that cannot start is never bound
    expect((await runner.audit({ action: "activate" })).map((a) => a.outcome === "ok" ? "ok" : a.error_code))
      .toEqual(["3001", "3006", "2006", "2006", "2006", "ok", "ok"]);
  });

  it("switch: starts the new version before rebinding, then stops the old one", async () => {
    host.calls = [];
    const oldStopped = host.stopOf("algorithm-example 1.0");
    const changes = await runner.switch("algorithm-example", "1.1", ["p001"]);
    expect(changes).toEqual([{ pid: "p001", to: { name: "algorithm-example", version: "1.1" }, from: { name: "algorithm-example", version: "1.0" } }]);
    await oldStopped; // the old version drains in the background
    expect(host.calls).toEqual(["start algorithm-example 1.1 (p001 → algorithm-example 1.0)", "stop algorithm-example 1.0"]);
    expect(await binding()).toEqual({ p001: "algorithm-example 1.1" });
    expect((await codeOf(runner.switch("algorithm-example", "1.1", ["p003"]))).code).toBe("2006");
  });

  it("rollback: back to the previous binding, and forth again; 3006 without history", async () => {
    expect((await runner.rollback(["p001"]))[0]).toMatchObject({ to: { version: "1.0" }, from: { version: "1.1" } });
    expect(await binding()).toEqual({ p001: "algorithm-example 1.0" });
    expect((await runner.rollback(["p001"]))[0]).toMatchObject({ to: { version: "1.1" } });
    expect(await binding()).toEqual({ p001: "algorithm-example 1.1" });
    expect((await codeOf(runner.rollback(["p002"]))).code).toBe("3006");
    expect((await runner.history("p001")).map((h) => `${h.action} ${h.version}`)).toEqual(["rollback 1.1", "rollback 1.0", "switch 1.1", "activate 1.0"]);
  });

  it("validate re-runs the smoke checks in the package venv", async () => {
    const report = await runner.validate("algorithm-example", "1.1");
    expect(report.summary).toMatchObject({ status: "PASS", failed: 0 });
    expect(report.checks.map((c) => c.name)).toContain("smoke_execute");
    expect((await codeOf(runner.validate("nope", "1"))).code).toBe("3006");
  }, 60_000);

  it("an algorithm failing its smoke checks installs as invalid with the report, and cannot be activated", async () => {
    const result = await runner.install(zips.broken);
    expect(result.state).toBe("invalid");
    const failed = result.validation.checks.filter((c) => c.result === "FAIL");
    expect(failed.map((c) => c.name)).toEqual(["info_name_version_match"]);
    const [row] = await runner.list({ name: "broken-algo" });
    expect(row).toMatchObject({ state: "invalid", validation: { summary: { status: "FAIL", failed: 1 } } });
    expect((await runner.audit({ target: "broken-algo 0.1" }))[0]).toMatchObject({ outcome: "invalid", detail: expect.stringMatching(/info_name_version_match/) });
    const err = await codeOf(runner.activate("broken-algo", "0.1", ["p001"]));
    expect(err).toMatchObject({ code: "2006", message: expect.stringMatching(/invalid: it failed its smoke checks \(info_name_version_match/) });
  }, INSTALL_TIMEOUT);

  it("an algorithm that prints installs with a warning: stdout_clean is the author's rule (validate fails it), not a station's", async () => {
    const chatty = await exampleZip(work, {
      name: "chatty-algo", version: "0.2",
      mutate: (dir) => {
        const main = path.join(dir, "algorithm_example", "main.py");
        writeFileSync(main, readFileSync(main, "utf8").replace("        started = time.perf_counter()\n", "        print('executing step', step_index)\n        started = time.perf_counter()\n"));
      },
    });
    const result = await runner.install(chatty);
    expect(result.state).toBe("installed");
    expect(result.validation.summary).toMatchObject({ status: "PASS", failed: 0 });
    expect(result.validation.checks.find((c) => c.name === "stdout_clean")?.message).toMatch(/^warning: the algorithm wrote \d+ bytes to stdout/);
    expect(result.warnings).toContainEqual(expect.stringMatching(/wrote \d+ bytes to stdout.*self\.logger/));
    expect((await runner.validate("chatty-algo", "0.2")).summary.status).toBe("PASS");
  }, INSTALL_TIMEOUT);

  it("keep_versions keeps active versions; a forced reinstall of an active one → 2007", async () => {
    await runner.activate("algorithm-example", "1.0", ["p002"]);
    const result = await runner.install(zips.a3);
    expect(result.state).toBe("installed");
    expect(await versionsOf("algorithm-example")).toEqual(["1.0", "1.1", "1.2"]); // 1.0 is bound to p002: kept
    expect((await codeOf(runner.install(zips.a2, { force: true }))).code).toBe("2007");
    expect(await versionsOf("algorithm-example")).toEqual(["1.0", "1.1", "1.2"]);
  }, INSTALL_TIMEOUT);

  it("deactivate unbinds (3004 when nothing is bound); a forced reinstall replaces and prunes the oldest inactive version", async () => {
    host.calls = [];
    expect(await runner.deactivate(["p002"])).toMatchObject([{ pid: "p002", to: null, from: { version: "1.0" } }]);
    expect((await codeOf(runner.deactivate(["p002"]))).code).toBe("3004");
    const oldDir = runner.repository.getPackage("algorithm-example", "1.0")!.dir;

    const result = await runner.install(zips.a3, { force: true });
    expect(result.state).toBe("installed");
    expect(await versionsOf("algorithm-example")).toEqual(["1.1", "1.2"]);
    expect(existsSync(oldDir)).toBe(false);
    expect(existsSync(path.join(runner.root, "zips", "algorithm-example-v1.0-offline.zip"))).toBe(false);
    expect(await runner.audit({ action: "prune" })).toMatchObject([{ target: "algorithm-example 1.0", outcome: "ok" }]);
    expect(host.calls).toContain("stop algorithm-example 1.0");
  }, INSTALL_TIMEOUT);

  it("a forced reinstall that fails keeps the build it would replace; one of a version sessions use → 2007", async () => {
    const before = runner.repository.getPackage("algorithm-example", "1.2")!;
    // The same version without SHA256SUMS and a byte of its numpy wheel flipped: refused only while its wheels install.
    const zip = readFileSync(await withoutSums(zips.a3, path.join(work, "corrupt-1.2.zip")));
    const header = zip.indexOf(Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04])]), zip.indexOf("wheels/numpy") - 30);
    const data = header + 30 + zip.readUInt16LE(header + 26) + zip.readUInt16LE(header + 28);
    zip[data + 1_000_000] = zip[data + 1_000_000]! ^ 0xff;
    const corrupt = path.join(work, "corrupt-1.2.zip");
    writeFileSync(corrupt, zip);

    const failed = await codeOf(runner.install(corrupt, { force: true }));
    expect(failed.code).toBe("2001");
    expect(runner.repository.getPackage("algorithm-example", "1.2")).toMatchObject({ state: "installed", dir: before.dir, zip_sha256: before.zip_sha256 });
    expect(existsSync(path.join(before.dir, "venv", "bin", "python"))).toBe(true);
    expect(existsSync(before.zip_path!)).toBe(true);
    expect(readdirSync(path.dirname(before.dir)).sort()).toEqual(["1.1", path.basename(before.dir)]); // nothing left of the failed build

    // One that deploys but fails its smoke checks here keeps the installed build too.
    const failing = await exampleZip(work, {
      version: "1.2", fileName: "failing-1.2.zip",
      mutate: (dir) => {
        const main = path.join(dir, "algorithm_example", "main.py");
        writeFileSync(main, readFileSync(main, "utf8").replace(/^VERSION = .*$/m, 'VERSION = "9.9-not-the-manifest"'));
      },
    });
    const invalid = await codeOf(runner.install(failing, { force: true }));
    expect(invalid).toMatchObject({ code: "2005", message: expect.stringMatching(/failed its smoke checks on this station .*info_name_version_match.*the installed build is kept/) });
    expect(runner.repository.getPackage("algorithm-example", "1.2")).toMatchObject({ state: "installed", dir: before.dir, zip_sha256: before.zip_sha256 });
    expect(readdirSync(path.dirname(before.dir)).sort()).toEqual(["1.1", path.basename(before.dir)]);

    host.busy.add("algorithm-example 1.2");
    try {
      expect(await codeOf(runner.install(zips.a3, { force: true }))).toMatchObject({ code: "2007", message: expect.stringMatching(/in use by running sessions/) });
    } finally {
      host.busy.delete("algorithm-example 1.2");
    }
  }, INSTALL_TIMEOUT);

  it("uninstall: 2007 while active or in use, force deactivates and removes; 3006 when absent", async () => {
    const active = await codeOf(runner.uninstall("algorithm-example", "1.1"));
    expect(active).toMatchObject({ code: "2007", message: expect.stringMatching(/active for p001/) });
    host.busy.add("algorithm-example 1.2");
    expect((await codeOf(runner.uninstall("algorithm-example", "1.2"))).message).toMatch(/in use/);
    host.busy.clear();

    host.calls = [];
    expect(await runner.uninstall("algorithm-example", "1.1", { force: true, operator: "bob" })).toEqual({ name: "algorithm-example", version: "1.1", deactivated: ["p001"] });
    expect(host.calls).toEqual(["stop algorithm-example 1.1"]);
    expect(await binding()).toEqual({});
    expect(await runner.uninstall("algorithm-example", "1.2")).toMatchObject({ deactivated: [] });
    expect(await versionsOf("algorithm-example")).toEqual([]);
    expect(existsSync(path.join(runner.root, "deployed", "algorithm-example"))).toBe(false);
    expect((await codeOf(runner.uninstall("algorithm-example", "1.2"))).code).toBe("3006");
    expect((await runner.audit({ action: "uninstall" })).map((a) => [a.operator, a.outcome, a.error_code])).toEqual([
      ["tester", "failed", "3006"], ["tester", "ok", null], ["bob", "ok", null], ["tester", "failed", "2007"], ["tester", "failed", "2007"],
    ]);
    expect((await runner.history("p001"))[0]).toMatchObject({ action: "uninstall", name: null, previous_version: "1.1", operator: "bob" });
  });

  it("keeps inspection records and serves them with filters", async () => {
    for (const status of ["OK", "NG", "OK"]) {
      runner.repository.addRecord({
        pid: "p003", session_id: "s1", step_index: 1, method: "execute", name: "board-check", version: "1.0", status: "OK", error_code: null,
        result_status: status, ng_reason: status === "NG" ? "scratch" : null, defect_count: status === "NG" ? 1 : 0, position_count: 2,
        calibration_count: 0, latency_ms: 12.5,
      });
    }
    expect(await runner.records({ pid: "p003", result_status: "NG" })).toMatchObject([{ ng_reason: "scratch", defect_count: 1 }]);
    expect(await runner.records({ limit: 2 })).toHaveLength(2);
  });

  it("reopens the same store with nothing to recover and a sound database", async () => {
    const before = await runner.list();
    await runner.close();
    runner = await Runner.open({ root: path.join(work, "root"), host, log: () => undefined });
    expect(runner.recovery.removed).toEqual([]);
    expect(await runner.list()).toEqual(before);
    expect(before.map((p) => `${p.name} ${p.version} ${p.state}`)).toEqual(["board-check 1.0 installed", "broken-algo 0.1 invalid", "chatty-algo 0.2 installed"]);
    expect(integrityCheck(runner.repository.db)).toBe("ok");
    await expect(runner.close().then(() => runner.list())).rejects.toThrow(/closed/);
  });
});

describe("startup_timeout_ms at install", () => {
  it("the smoke check's worker gets the workers' start-up limit: a slower import lands invalid naming the limit", async () => {
    const slow = await exampleZip(work, {
      name: "slow-start", version: "1.0",
      mutate: (dir) => {
        const main = path.join(dir, "algorithm_example", "main.py");
        writeFileSync(main, readFileSync(main, "utf8").replace(/^import time$/m, "import time\ntime.sleep(30)  # a model that loads slowly"));
      },
    });
    const store = await Runner.open({ root: path.join(work, "slow-root"), config: { startup_timeout_ms: 1_000 }, log: () => undefined });
    try {
      const result = await store.install(slow);
      expect(result.state).toBe("invalid");
      expect(JSON.stringify(result.validation)).toMatch(/did not become ready within 1000 ms/);
    } finally {
      await store.close();
    }
  }, INSTALL_TIMEOUT);
});
