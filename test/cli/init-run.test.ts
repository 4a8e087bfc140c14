import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { cliMain, runCli, type Report } from "../helpers/cli.js";
import { fixture, repoRoot, testPython } from "../helpers/python.js";
import { SDK_VERSION } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-cli-run-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const sample = path.join(repoRoot, "examples", "algorithm-example", "sample.png");

function algo(behaviour: string): string {
  const dir = mkdtempSync(path.join(work, `${behaviour}-`));
  cpSync(fixture("cli-algo"), dir, { recursive: true });
  writeFileSync(path.join(dir, "behaviour.txt"), behaviour);
  return dir;
}

describe("procvision-cli init", () => {
  it("creates a project that passes validate as generated, on a bare python3 and with numpy", async () => {
    const made = await runCli(["init", "screw-check", "--pids", "A01,A02", "-v", "1.2.0", "-e", "checks screws", "--json"], { cwd: work });
    expect(made.code).toBe(0);
    const dir = path.join(work, "screw-check");
    expect((made.json as { path: string }).path).toBe(dir);
    for (const file of ["manifest.json", "screw_check/__init__.py", "screw_check/main.py", "requirements.txt", ".procvision_env.json", ".procvisionignore", "sample.png"]) {
      expect(existsSync(path.join(dir, file)), file).toBe(true);
    }
    const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as Record<string, unknown>;
    expect(manifest).toMatchObject({ name: "screw-check", version: "1.2.0", description: "checks screws", supported_pids: ["A01", "A02"] });
    expect(readFileSync(path.join(dir, "requirements.txt"), "utf8")).toMatch(new RegExp(`^procvision_algorithm_sdk==${SDK_VERSION.replace(/\./g, "\\.")}\\nnumpy==\\d+\\.\\d+\\.\\d+\\n$`));
    const env = JSON.parse(readFileSync(path.join(dir, ".procvision_env.json"), "utf8")) as Record<string, unknown>;
    expect(env).toMatchObject({ implementation: "cp", auto_freeze: true });
    expect(String(env.abi)).toMatch(/^cp3\d+$/);

    for (const python of [[], ["--python", testPython()]]) {
      const validated = await runCli(["validate", dir, "--json", ...python]);
      expect((validated.json as Report).summary, validated.stdout).toEqual({ status: "PASS", passed: 21, failed: 0 });
    }
    const ran = await runCli(["run", dir, "--pid", "A01", "--image", path.join(dir, "sample.png"), "--python", testPython(), "--json"]);
    expect(ran.code).toBe(0);
    expect(ran.json).toMatchObject({ pre_execute: { status: "OK" }, execute: { status: "OK", data: { result_status: "OK" } } });
  });

  it("refuses to overwrite without --force, and writes nothing", async () => {
    const dir = path.join(work, "keep-me");
    expect((await runCli(["init", "keep-me", "-d", dir])).code).toBe(0);
    writeFileSync(path.join(dir, "manifest.json"), "my edits");
    const again = await runCli(["init", "keep-me", "-d", dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already has .*manifest\.json.*nothing was written/);
    expect(again.stderr).toMatch(/--force/);
    expect(readFileSync(path.join(dir, "manifest.json"), "utf8")).toBe("my edits");
    expect((await runCli(["init", "keep-me", "-d", dir, "--force"])).code).toBe(0);
    expect(readFileSync(path.join(dir, "manifest.json"), "utf8")).toMatch(/"keep-me"/);
  });

  it("rejects a bad name, bad PIDs or an empty version as usage errors", async () => {
    expect((await runCli(["init", "../evil", "-d", path.join(work, "evil")])).code).toBe(2);
    expect((await runCli(["init", "ok-name", "-d", path.join(work, "dup"), "--pids", "a,a"])).code).toBe(2);
    for (const version of ["", "1.0/x", " 1.0"]) {
      const bad = await runCli(["init", "ok-name", "-d", path.join(work, "bad-version"), "-v", version, "--json"]);
      expect(bad.code, version).toBe(2);
      expect(bad.json).toMatchObject({ error_code: "1006", message: expect.stringMatching(/^-v\/--version: expected a non-empty version usable in a file name/) });
    }
    expect(existsSync(path.join(work, "bad-version"))).toBe(false);
  });

  it("a name that is also a module the algorithm imports gets a package of its own name, and validates", async () => {
    // numpy and the SDK by name (they may not be installed yet); queue because this Python has it (the SDK imports it).
    for (const [name, klass] of [["numpy", "NumpyAlgo"], ["procvision_algorithm_sdk", "ProcvisionAlgorithmSdkAlgo"], ["queue", "QueueAlgo"]] as const) {
      const made = await runCli(["init", name, "-d", path.join(work, `shadow-${name}`), "--python", testPython(), "--json"], { cwd: work });
      expect(made.code, made.stderr).toBe(0);
      expect(made.json).toMatchObject({ module: `${name}_algo`, entry_point: `${name}_algo.main:${klass}Algorithm` });
      const validated = await runCli(["validate", path.join(work, `shadow-${name}`), "--python", testPython(), "--json"]);
      expect((validated.json as Report).summary, validated.stdout).toMatchObject({ status: "PASS" });
    }
  });
});

describe("procvision-cli run", () => {
  it("exit 0 on OK, prints statuses and latency, and draws the overlay and the report", async () => {
    const dir = algo("ng");
    const overlay = path.join(work, "overlay.png");
    const report = path.join(work, "report.html");
    const run = await runCli(["run", dir, "--pid", "A01", "--image", sample, "--save-overlay", overlay, "--report", report]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/pre_execute OK "located"/);
    expect(run.stdout).toMatch(/execute +OK → NG .*ng_reason "scratch" \(1 defect rects\) [\d.]+ ms/);
    const meta = await sharp(overlay).metadata();
    const original = await sharp(sample).metadata();
    expect([meta.width, meta.height]).toEqual([original.width, original.height]);
    // The defect rect (20,20 10×10) has a red outline; the calibration rect (1,1) a blue one.
    const { data, info } = await sharp(overlay).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const px = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    const [r, g, b] = px(20, 25) as [number, number, number];
    expect(r).toBeGreaterThan(180);
    expect(g + b).toBeLessThan(200);
    const html = readFileSync(report, "utf8");
    expect(html).toMatch(/scratch/);
    expect(html).toMatch(/data:image\/png;base64,/);
  });

  it("the session context is the one the original CLI gave its runs (product_code, operator, trace_id)", async () => {
    const dir = mkdtempSync(path.join(work, "context-"));
    writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({
      name: "ctx", version: "1.0", entry_point: "ctx_algo:Ctx", supported_pids: ["A01"], steps: [{ index: 1, name: "look", params: [] }],
    }));
    writeFileSync(path.join(dir, "ctx_algo.py"), [
      "from procvision_algorithm_sdk import BaseAlgorithm",
      "class Ctx(BaseAlgorithm):",
      "    def get_info(self): return {'name': 'ctx', 'version': '1.0', 'supported_pids': ['A01'], 'steps': [{'index': 1, 'name': 'look', 'params': []}]}",
      "    def pre_execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta): return {'status': 'OK', 'message': 'ready'}",
      "    def execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):",
      "        c = session.context",
      "        return {'status': 'OK', 'message': c['product_code'] + ' ' + c['operator'], 'data': {'result_status': 'OK', 'trace': c['trace_id']}}",
      "",
    ].join("\n"));
    const ran = await runCli(["run", dir, "--pid", "A01", "--image", sample, "--python", testPython(), "--json"]);
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);
    expect(ran.json).toMatchObject({ execute: { status: "OK", message: "A01 dev", data: { trace: expect.stringMatching(/^trace-\d+$/) } } });
  });

  it("--json gives pre_execute and execute; --session-steps a list from one session; --params reach the algorithm", async () => {
    const dir = algo("ok");
    const one = await runCli(["run", dir, "--pid", "A02", "--image", sample, "--step", "2", "--json"]);
    expect(one.json).toMatchObject({ pre_execute: { status: "OK" }, execute: { status: "OK", message: "step 2 after pre 2" } });
    const steps = await runCli(["run", dir, "--pid", "A01", "--image", sample, "--session-steps", "1,2", "--json"]);
    expect((steps.json as unknown[]).map((s) => (s as { execute: { message: string } }).execute.message)).toEqual(["step 1 after pre 1", "step 2 after pre 2"]);
    const paramsFile = path.join(work, "params.json");
    writeFileSync(paramsFile, JSON.stringify({ threshold: 0.95 }));
    const ng = await runCli(["run", dir, "--pid", "A01", "--image", sample, "--params", `@${paramsFile}`, "--json"]);
    expect(ng.json).toMatchObject({ execute: { data: { result_status: "NG" } } });
  });

  it("exit 1 when execute is not OK", async () => {
    const run = await runCli(["run", algo("raises"), "--pid", "A01", "--image", sample, "--json"]);
    expect(run.code).toBe(1);
    expect(run.json).toMatchObject({ execute: { status: "ERROR", message: expect.stringMatching(/execute exploded/) as unknown } });
  });

  it("exit 2 for a missing project, manifest or image, non-JSON params, or a PID outside supported_pids", async () => {
    const dir = algo("ok");
    const cases: string[][] = [
      ["run", path.join(work, "nope"), "--pid", "A01", "--image", sample],
      ["run", work, "--pid", "A01", "--image", sample],
      ["run", dir, "--pid", "A01", "--image", path.join(work, "missing.png")],
      ["run", dir, "--pid", "A01", "--image", sample, "--params", "{threshold:"],
      ["run", dir, "--pid", "B99", "--image", sample],
      ["run", dir, "--image", sample],
    ];
    for (const args of cases) {
      const run = await runCli(args);
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stderr.length, args.join(" ")).toBeGreaterThan(0);
    }
    // A file that is no image: exit 2, with the code a runner gives it (1002).
    const notImage = path.join(work, "notes.png");
    writeFileSync(notImage, "not an image");
    const undecodable = await runCli(["run", dir, "--pid", "A01", "--image", notImage, "--json"]);
    expect(undecodable.code).toBe(2);
    expect(undecodable.json).toMatchObject({ error_code: "1002", message: expect.stringContaining("cannot decode image") });
  });

  it("SIGTERM or Ctrl-C during a call: the worker and the shared-memory segments go with the CLI (exit 143 / 130)", async () => {
    for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
      const shm = mkdtempSync(path.join(work, "shm-"));
      const child = spawn(process.execPath, [cliMain, "run", algo("hang"), "--pid", "A01", "--image", sample, "--tail-logs"],
        { env: { ...process.env, PROC_SHM_DIR: shm }, stdio: ["ignore", "pipe", "pipe"] });
      const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
      // The algorithm says it is in its call, and which process it is (--tail-logs passes its log lines on).
      const workerPid = await new Promise<number>((resolve, reject) => {
        let text = "";
        child.stderr.on("data", (d: Buffer) => {
          text += d.toString();
          const found = /"message": "hanging", "pid": (\d+)/.exec(text);
          if (found) resolve(Number(found[1]));
        });
        void exited.then(() => reject(new Error(`the CLI ended first: ${text}`)));
      });
      expect(readdirSync(shm).length).toBeGreaterThan(0);
      child.kill(signal);
      expect(await exited).toBe(code);
      expect(readdirSync(shm)).toEqual([]);
      await expect.poll(() => processGone(workerPid), { timeout: 10_000 }).toBe(true);
    }
  });

  it("a hung algorithm ends at --timeout-ms with 1005", async () => {
    const started = Date.now();
    const run = await runCli(["run", algo("hang"), "--pid", "A01", "--image", sample, "--timeout-ms", "1500", "--json"]);
    expect(run.code).toBe(1);
    expect(run.json).toMatchObject({ execute: { status: "ERROR", error_code: "1005" } });
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

/** The process has exited (a zombie not yet reaped counts as gone). */
function processGone(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return true;
  }
}
