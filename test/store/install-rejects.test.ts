// Packages the runner must refuse before anything is deployed: hostile zips (2001/2002), missing or foreign wheels
// (2004/2003), tampering and signatures (2008). Each refusal leaves the store as it was and is audited.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcVisionError, Runner } from "../../src/index.js";
import { generateKeyPair, loadPrivateKey } from "../../src/signing/index.js";
import { deflated, forgeZip, stored } from "../helpers/forge-zip.js";
import { exampleZip, realWheels, rewriteZip, withoutSums } from "../helpers/store.js";
import { fakeWheel } from "../helpers/wheels.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-store-rejects-"));
const zipsDir = path.join(work, "in");
mkdirSync(zipsDir);
let runner: Runner;
afterAll(async () => {
  await runner?.close();
  rmSync(work, { recursive: true, force: true });
});

beforeAll(async () => {
  runner = await Runner.open({ root: path.join(work, "root"), log: () => undefined });
});

/** The store holds nothing but its empty layout and database. */
function expectStoreUntouched(): void {
  const root = runner.root;
  expect(readdirSync(root).filter((f) => !f.startsWith("runner.db")).sort()).toEqual(["deployed", "logs", "zips"]);
  expect(readdirSync(path.join(root, "deployed"))).toEqual([]);
  expect(readdirSync(path.join(root, "zips"))).toEqual([]);
  expect(runner.repository.listPackages()).toEqual([]);
}

async function rejection(zipPath: string, r: Runner = runner): Promise<ProcVisionError> {
  try {
    await r.install(zipPath);
  } catch (err) {
    expect(err).toBeInstanceOf(ProcVisionError);
    expect((err as ProcVisionError).hint).toBeTruthy();
    return err as ProcVisionError;
  }
  throw new Error(`install of ${zipPath} succeeded`);
}

let counter = 0;
function zipFile(bytes: Buffer): string {
  const file = path.join(zipsDir, `hostile-${counter++}.zip`);
  writeFileSync(file, bytes);
  return file;
}

const manifest = stored("manifest.json", JSON.stringify({ name: "evil", version: "1.0", entry_point: "m:C", supported_pids: ["p1"] }));
const sha = (text: string): string => createHash("sha256").update(text).digest("hex");
/** SHA256SUMS of the true contents: the installer then reads (and CRC-checks) every entry before extracting. */
const sums = (files: Record<string, string>) => stored("SHA256SUMS", Object.entries(files).map(([p, t]) => `${sha(t)}  ${p}\n`).join(""));
const manifestText = manifest.data!.toString();
const valid = forgeZip([manifest, stored("a.py", "print(1)\n")]);

const hostile: { title: string; bytes: Buffer; code: string; message: RegExp }[] = [
  { title: "parent traversal", bytes: forgeZip([manifest, stored("../evil", "x")]), code: "2001", message: /'\.\.' segment/ },
  { title: "deep traversal", bytes: forgeZip([manifest, stored("a/../../../../tmp/evil", "x")]), code: "2001", message: /'\.\.' segment/ },
  { title: "absolute path", bytes: forgeZip([manifest, stored("/tmp/evil", "x")]), code: "2001", message: /absolute path/ },
  { title: "drive letter", bytes: forgeZip([manifest, stored("C:/evil", "x")]), code: "2001", message: /drive letter/ },
  { title: "backslash traversal", bytes: forgeZip([manifest, stored("..\\evil", "x")]), code: "2001", message: /backslash/ },
  { title: "backslash path", bytes: forgeZip([manifest, stored("a\\b.py", "x")]), code: "2001", message: /backslash/ },
  { title: "symlink to /etc", bytes: forgeZip([manifest, stored("link", "/etc/passwd", { mode: 0o120777 })]), code: "2001", message: /symbolic link/ },
  { title: "symlinked directory", bytes: forgeZip([manifest, stored("pkg", "/tmp", { mode: 0o120777 }), stored("pkg/x.py", "x")]), code: "2001", message: /symbolic link/ },
  { title: "device file", bytes: forgeZip([manifest, stored("dev", "", { mode: 0o020644 })]), code: "2001", message: /special file/ },
  { title: "duplicate manifest", bytes: forgeZip([manifest, stored("manifest.json", "{}")]), code: "2001", message: /duplicate name/ },
  { title: "case-insensitive duplicate", bytes: forgeZip([manifest, stored("Pkg/a.py"), stored("pkg/a.py")]), code: "2001", message: /letter case/ },
  { title: "file used as a directory", bytes: forgeZip([manifest, stored("a", "x"), stored("a/b", "y")]), code: "2001", message: /which is a file/ },
  { title: "NUL in a name", bytes: forgeZip([manifest, stored("a\u0000.py", "x")]), code: "2001", message: /control character/ },
  { title: "non-UTF-8 name", bytes: forgeZip([manifest, stored(Buffer.from([0x61, 0xe9, 0x2e, 0x70, 0x79]), "x", { flags: 0 })]), code: "2001", message: /non-UTF-8 name/ },
  { title: "zip bomb", bytes: forgeZip([manifest, deflated("zeros.bin", Buffer.alloc(8 * 1024 * 1024))]), code: "2001", message: /zip bomb/ },
  { title: "overlapping entries", bytes: forgeZip([manifest, deflated("a.bin", "aaaa"), { ...deflated("b.bin", "aaaa"), sharesLocalOf: 1 }]), code: "2001", message: /overlaps/ },
  { title: "encrypted entry", bytes: forgeZip([manifest, stored("a.py", Buffer.alloc(13), { flags: 0x0801, size: 1 })]), code: "2001", message: /encrypted/ },
  { title: "unsupported compression", bytes: forgeZip([manifest, stored("a.py", "x", { method: 14 })]), code: "2001", message: /unsupported compression/ },
  { title: "CRC mismatch", bytes: forgeZip([manifest, stored("a.py", "print(1)", { crc: 42 }), sums({ "manifest.json": manifestText, "a.py": "print(1)" })]), code: "2001", message: /CRC-32 mismatch|damaged/ },
  { title: "size lies", bytes: forgeZip([manifest, deflated("a.py", "print('x')\n".repeat(50), { size: 10 }), sums({ "manifest.json": manifestText, "a.py": "print('x')\n".repeat(50) })]), code: "2001", message: /damaged data|size mismatch/ },
  { title: "not a zip", bytes: Buffer.from("PK? no, just text\n".repeat(40)), code: "2001", message: /not a readable zip/ },
  { title: "truncated zip", bytes: valid.subarray(0, valid.length - 10), code: "2001", message: /not a readable zip/ },
  { title: "empty file", bytes: Buffer.alloc(0), code: "2001", message: /not a readable zip/ },
  { title: "no manifest", bytes: forgeZip([stored("a.py", "x"), stored("wheels/x-1.0-py3-none-any.whl", "w")]), code: "2002", message: /no manifest\.json/ },
  { title: "two candidate manifests", bytes: forgeZip([stored("a/manifest.json", "{}"), stored("b/manifest.json", "{}")]), code: "2002", message: /several top-level folders/ },
  { title: "manifest not JSON", bytes: forgeZip([stored("manifest.json", "{name: evil")]), code: "2002", message: /not valid JSON at line 1/ },
  { title: "manifest missing fields", bytes: forgeZip([stored("manifest.json", '{"name": "x"}')]), code: "2002", message: /entry_point/ },
  { title: "version escaping deployed/", bytes: forgeZip([stored("manifest.json", JSON.stringify({ name: "x", version: "../../etc", entry_point: "m:C", supported_pids: ["p"] }))]), code: "2002", message: /version/ },
];

describe("hostile zips are refused and nothing is written", () => {
  it("has a corpus of at least 20 cases", () => expect(hostile.length).toBeGreaterThanOrEqual(20));

  it.each(hostile)("$title → $code", async ({ bytes, code, message }) => {
    const file = zipFile(bytes);
    const before = readdirSync(zipsDir).sort();
    const err = await rejection(file);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expectStoreUntouched();
    expect(readdirSync(zipsDir).sort()).toEqual(before); // nothing beside the zip either
    expect(readdirSync(path.dirname(work)).filter((f) => f === "evil")).toEqual([]);
    expect((await runner.audit({ limit: 1 }))[0]).toMatchObject({ action: "install", outcome: "failed", error_code: code });
  });
});

describe("packages that cannot install on this station", () => {
  it("a requirement without a wheel → 2004 naming it", async () => {
    const zip = await exampleZip(work, { fileName: "no-numpy.zip", wheels: [realWheels().sdk] });
    const err = await rejection(zip);
    expect(err.code).toBe("2004");
    expect(err.message).toMatch(/no wheel for numpy==2\.2\.6/);
    expectStoreUntouched();
    expect((await runner.audit({ limit: 1 }))[0]).toMatchObject({ target: "algorithm-example 1.0", outcome: "failed", error_code: "2004" });
  });

  it("a dependency of a requirement without a wheel → 2004 naming it and who needs it, nothing left behind", async () => {
    const wheels = mkdtempSync(path.join(work, "wheels-"));
    const lib = await fakeWheel(wheels, { name: "vision-lib", version: "1.0", tag: "py3-none-any", requires: ["missing-dep>=2"] });
    const zip = await exampleZip(work, {
      fileName: "no-dep.zip", wheels: [...Object.values(realWheels()), lib],
      requirements: "numpy==2.2.6\nprocvision_algorithm_sdk==0.1.0\nvision-lib==1.0\n",
    });
    const err = await rejection(zip);
    expect(err.code).toBe("2004");
    expect(err.message).toMatch(/no wheel for missing-dep>=2, which vision_lib-1\.0-py3-none-any\.whl needs/);
    expectStoreUntouched();
  });

  it("a wheel with an entry escaping the venv is refused before anything is deployed, naming the wheel", async () => {
    const wheels = mkdtempSync(path.join(work, "wheels-"));
    const evil = path.join(wheels, "evil-1.0-py3-none-any.whl");
    writeFileSync(evil, forgeZip([
      deflated("evil-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n"),
      deflated("evil-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"),
      deflated("evil-1.0.dist-info/RECORD", ""),
      deflated("../../../../evil.py", "import os\n"),
    ]));
    const zip = await exampleZip(work, {
      fileName: "evil-wheel.zip", wheels: [...Object.values(realWheels()), evil],
      requirements: "numpy==2.2.6\nprocvision_algorithm_sdk==0.1.0\nevil==1.0\n",
    });
    const err = await rejection(zip);
    // Caught by the wheel check before the registry row (yauzl refuses the name), with the code the installer's own
    // entry checks give (the second line of defence, test/wheel-installer).
    expect(err.code).toBe("2001");
    expect(err.message).toMatch(/evil-1\.0-py3-none-any\.whl is not a readable wheel .*evil\.py/);
    expectStoreUntouched();
    expect(readdirSync(path.dirname(work)).filter((f) => f === "evil.py")).toEqual([]);
  });

  it("only a cp310 wheel on this CPython 3.11 → 2003 naming both tag sets", async () => {
    const wheels = mkdtempSync(path.join(work, "wheels-"));
    const cp310 = await fakeWheel(wheels, { name: "numpy", version: "2.2.6", tag: "cp310-cp310-manylinux_2_17_x86_64" });
    const zip = await exampleZip(work, { fileName: "cp310.zip", wheels: [cp310, realWheels().sdk] });
    const err = await rejection(zip);
    expect(err.code).toBe("2003");
    expect(err.message).toMatch(/numpy-2\.2\.6-cp310-cp310-manylinux_2_17_x86_64\.whl \(tags cp310-cp310-manylinux_2_17_x86_64\)/);
    expect(err.message).toMatch(/accepts cp311-cp311-/);
    expect(err.message).toMatch(/py3-none-any/);
    expect(err.details?.interpreter_tags).toContain("cp311-cp311-manylinux_2_17_x86_64");
    expectStoreUntouched();
  });

  it(".procvision_env.json built for Python 3.10 → 2003", async () => {
    const zip = await exampleZip(work, { fileName: "env310.zip", envFile: { python_version: "3.10", abi: "cp310", wheels_platform: "manylinux_2_17_x86_64" } });
    const err = await rejection(zip);
    expect(err.code).toBe("2003");
    expect(err.message).toMatch(/python_version 3\.10 \(this interpreter: 3\.11\)/);
    expectStoreUntouched();
  });
});

describe("integrity", () => {
  let good: string;
  beforeAll(async () => {
    good = await exampleZip(work, { fileName: "good.zip" });
  });

  it("a file changed after packaging → 2008 naming it", async () => {
    const tampered = await rewriteZip(good, path.join(work, "tampered.zip"), (entries) => entries.map((e) =>
      e.path === "algorithm_example/main.py" ? { ...e, data: Buffer.concat([e.data, Buffer.from("\nimport os; os.system('true')\n")]) } : e));
    const err = await rejection(tampered);
    expect(err.code).toBe("2008");
    expect(err.message).toMatch(/algorithm_example\/main\.py \(mismatch\)/);
    expectStoreUntouched();
  });

  it("a file added after packaging → 2008", async () => {
    const added = await rewriteZip(good, path.join(work, "added.zip"), (entries) => [...entries, { path: "algorithm_example/backdoor.py", data: Buffer.from("x = 1\n") }]);
    const err = await rejection(added);
    expect(err.code).toBe("2008");
    expect(err.message).toMatch(/backdoor\.py \(missing from sums\)/);
  });

  it("unsigned under require_signature → 2008; signed by an untrusted key → 2008; a forged SIGNATURE → 2008", async () => {
    const dir = mkdtempSync(path.join(work, "keys-"));
    const trusted = generateKeyPair();
    const other = generateKeyPair();
    writeFileSync(path.join(dir, "trusted.pub"), trusted.publicKeyPem);
    writeFileSync(path.join(dir, "other.key"), other.privateKeyPem);
    const strict = await Runner.open({
      root: path.join(work, "strict-root"), log: () => undefined,
      config: { require_signature: true, trusted_keys: [path.join(dir, "trusted.pub")] },
    });
    try {
      const unsigned = await rejection(good, strict);
      expect(unsigned.code).toBe("2008");
      expect(unsigned.message).toMatch(/not signed/);

      const otherSigned = await exampleZip(work, { fileName: "other-signed.zip", signingKey: loadPrivateKey(path.join(dir, "other.key")) });
      const bad = await rejection(otherSigned, strict);
      expect(bad.code).toBe("2008");
      expect(bad.message).toMatch(/SIGNATURE does not verify/);

      const forged = await rewriteZip(otherSigned, path.join(work, "forged.zip"), (entries) => entries.map((e) =>
        e.path === "SIGNATURE" ? { ...e, data: Buffer.from(`${Buffer.alloc(64, 7).toString("base64")}\n`) } : e));
      expect((await rejection(forged, strict)).code).toBe("2008");

      const noSums = await withoutSums(good, path.join(work, "nosums.zip"));
      expect((await rejection(noSums, strict)).message).toMatch(/no SHA256SUMS and no SIGNATURE/);
      expect(readdirSync(path.join(strict.root, "deployed"))).toEqual([]);
      expect((await strict.audit({ outcome: "failed" })).map((a) => a.error_code)).toEqual(["2008", "2008", "2008", "2008"]);
    } finally {
      await strict.close();
    }
  });

  it("a bad trusted_keys entry is a configuration error naming the key", async () => {
    await expect(Runner.open({ root: path.join(work, "badkey-root"), config: { trusted_keys: ["/nonexistent.pub"] } }))
      .rejects.toThrow(/trusted_keys\[0\]: cannot read the public key \/nonexistent\.pub/);
  });
});
