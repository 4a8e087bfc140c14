import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, runRunnerCli } from "../helpers/cli.js";
import { fixture, repoRoot } from "../helpers/python.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-cli-usage-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const cliVersion = (JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
const sample = path.join(repoRoot, "examples", "algorithm-example", "sample.png");
const manifestVersion = (dir: string): unknown => (JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as { version: unknown }).version;

describe("procvision-cli flags", () => {
  it("init --version X and init -v X set the project's version (contract §2); procvision-cli --version prints the CLI's", async () => {
    const long = await runCli(["init", "long-flag", "--version", "2.0.0"], { cwd: work });
    expect(long.code, long.stderr).toBe(0);
    expect(long.stdout).not.toBe(`${cliVersion}\n`);
    expect(manifestVersion(path.join(work, "long-flag"))).toBe("2.0.0");

    const short = await runCli(["init", "short-flag", "-v", "3.1.0"], { cwd: work });
    expect(short.code, short.stderr).toBe(0);
    expect(manifestVersion(path.join(work, "short-flag"))).toBe("3.1.0");

    const program = await runCli(["--version"]);
    expect(program.code).toBe(0);
    expect(program.stdout).toBe(`${cliVersion}\n`);
  });
});

describe("usage errors with --json (contract §6: every error carries a code)", () => {
  const noManifest = path.join(work, "no-manifest");
  mkdirSync(noManifest, { recursive: true });
  const someZip = path.join(work, "some.zip");
  writeFileSync(someZip, "");
  const notAKey = path.join(work, "not-a-key.pub");
  writeFileSync(notAKey, "hello\n");
  const cases: [string, string[], string][] = [
    ["init without its name (a parse error)", ["init", "--json"], "1006"],
    ["an unknown option", ["package", work, "--bogus", "--json"], "1006"],
    ["init with a bad name", ["init", "../evil", "--json"], "1006"],
    ["run on a missing project", ["run", path.join(work, "nothere"), "--json"], "1006"],
    ["run on a folder without manifest.json", ["run", noManifest, "--pid", "A", "--image", "x.png", "--json"], "2002"],
    ["package of a folder without manifest.json", ["package", noManifest, "--json"], "2002"],
    ["validate --zip of a missing zip", ["validate", "--zip", path.join(work, "missing.zip"), "--json"], "2001"],
    ["validate --zip with a --key that is no public key", ["validate", "--zip", someZip, "--key", notAKey, "--json"], "1006"],
    ["validate --image of a file that is no image (as run says of it)", ["validate", fixture("cli-algo"), "--image", notAKey, "--json"], "1002"],
    ["run --image of a file that is no image", ["run", fixture("cli-algo"), "--pid", "A01", "--image", notAKey, "--json"], "1002"],
    ["package -o naming a folder", ["package", fixture("cli-algo"), "-o", tmpdir(), "--json"], "1006"],
    ["package -w with an empty platform", ["package", fixture("cli-algo"), "-w", "", "--json"], "1006"],
    ["run with --params that are not JSON", ["run", fixture("cli-algo"), "--image", sample, "--params", "{oops", "--json"], "1006"],
    ["publish to a malformed reference (upper case repository)", ["publish", someZip, "oci://127.0.0.1:5000/Vision:1.0", "--json"], "1006"],
    ["desired set with a --package that is no OCI reference", ["desired", "set", "oci://127.0.0.1:5000/fleet/desired:line-3", "--package", "docker://x", "--pids", "A01", "--json"], "1006"],
    ["desired show of a malformed reference", ["desired", "show", "https://registry/x", "--json"], "1006"],
    ["run --save-overlay into a folder that does not exist", ["run", fixture("cli-algo"), "--pid", "A01", "--image", sample, "--save-overlay", "/nonexistent-dir/o.png", "--json"], "1006"],
    ["run --report into a folder no one may write (a read-only file system)", ["run", fixture("cli-algo"), "--pid", "A01", "--image", sample, "--report", "/proc/report.html", "--json"], "1006"],
    ["run --report naming a folder", ["run", fixture("cli-algo"), "--pid", "A01", "--image", sample, "--report", tmpdir(), "--json"], "1006"],
    ["publish to a digest instead of a tag", ["publish", sample, `oci://127.0.0.1:5000/vision/x@sha256:${"ab".repeat(32)}`, "--json"], "1006"],
    ["run with a PID outside supported_pids", ["run", fixture("cli-algo"), "--pid", "Z99", "--image", sample, "--json"], "1001"],
  ];
  it.each(cases)("%s", async (_label, args, code) => {
    const run = await runCli(args, { cwd: work });
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(run.json, run.stdout).toMatchObject({ error_code: code, message: expect.stringMatching(/\S/) as unknown });
  });

  it("inputs that are not there, and a PID the manifest does not list, come with a hint saying what to pass", async () => {
    const expectations: [string[], RegExp][] = [
      [["run", fixture("cli-algo"), "--pid", "Z99", "--image", sample, "--json"], /--pid A01.*supported_pids in manifest\.json/],
      [["run", path.join(work, "nothere"), "--json"], /folder that holds manifest\.json/],
      [["validate", path.join(work, "nothere"), "--json"], /folder that holds manifest\.json/],
      [["package", path.join(work, "nothere"), "--json"], /folder that holds manifest\.json/],
      [["run", fixture("cli-algo"), "--pid", "A01", "--image", path.join(work, "nope.png"), "--json"], /JPEG or PNG/],
      [["run", fixture("cli-algo"), "--pid", "A01", "--image", sample, "--params", "@" + path.join(work, "nope.json"), "--json"], /path after the @/],
      [["validate", fixture("cli-algo"), "--image", path.join(work, "nope.png"), "--json"], /JPEG or PNG/],
    ];
    for (const [args, hint] of expectations) {
      const run = await runCli(args, { cwd: work });
      expect(run.code, run.stdout + run.stderr).toBe(2);
      expect(run.json, args.join(" ")).toMatchObject({ hint: expect.stringMatching(hint) as unknown });
    }
  });

  it("output piped into a reader that closed early (`| head`) ends quietly with 0, not an EPIPE stack", async () => {
    for (const bin of ["procvision-cli", "procvision-runner"]) {
      const child = spawn(process.execPath, [path.join(repoRoot, "dist", "bin", `${bin}.js`), "--help"], { stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.destroy();
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      expect({ bin, code, stderr }).toEqual({ bin, code: 0, stderr: "" });
    }
  });

  it("people see the code too, not only --json (contract §6)", async () => {
    const human = await runCli(["run", fixture("cli-algo"), "--pid", "A01", "--image", path.join(work, "nope.png")], { cwd: work });
    expect(human.code).toBe(2);
    expect(human.stderr).toMatch(/^✗ \[\d{4}\] .*nope\.png/);
  });

  it("keygen refusing to overwrite carries 1006", async () => {
    const prefix = path.join(work, "key");
    writeFileSync(`${prefix}.key`, "x");
    const run = await runCli(["keygen", "-o", prefix, "--json"]);
    expect(run.code).toBe(2);
    expect(run.json).toMatchObject({ error_code: "1006", hint: expect.stringMatching(/--force/) as unknown });
  });

  it("procvision-runner's parse errors carry 1006 too, and exit 1 like its other failures (contract §7)", async () => {
    for (const args of [["install", "--json"], ["list", "--bogus", "--json"], ["activate", "a", "1.0", "--json"], ["inspect", "--pid", "p1", "--json"], ["frobnicate", "--json"]]) {
      const run = await runRunnerCli(args, { cwd: work });
      expect(run.code, run.stderr).toBe(1);
      expect(run.json, run.stdout).toMatchObject({ error_code: "1006", message: expect.stringMatching(/missing required argument 'zip'|unknown option '--bogus'|required option '--pids|required option '--image|unknown command 'frobnicate'/) as unknown });
    }
    // For people too: the code and the message, then the usage.
    const human = await runRunnerCli(["activate", "a", "1.0"], { cwd: work });
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/^✗ \[1006\] required option '--pids <list>' not specified\n/);
    expect(human.stderr).toMatch(/Usage: procvision-runner activate/);
  });
});
