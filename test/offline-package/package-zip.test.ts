// The offline package as a zip: where the package starts (root, or the one top-level folder of the original tool's
// zips, with wheels/ beside it), what is refused for being no package, and SHA256SUMS against the entries.
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ProcVisionError } from "../../src/errors/index.js";
import { buildOfflineZip, openPackageZip, packageWheels, verifyChecksums } from "../../src/offline-package/index.js";
import { forgeZip, stored, zipFiles } from "../helpers/forge-zip.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-package-zip-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const zipFile = zipFiles(work);

const manifest = stored("manifest.json", '{"name": "x"}');

const refused = [
  { title: "no manifest.json", bytes: forgeZip([stored("a.py", "x")]), code: "2002", message: /no manifest\.json at its root/ },
  { title: "manifest.json in two top-level folders", bytes: forgeZip([stored("a/manifest.json", "{}"), stored("b/manifest.json", "{}")]), code: "2002", message: /several top-level folders \(a\/, b\/\)/ },
  { title: "wheels at the root and in the folder collide", bytes: forgeZip([stored("algo/manifest.json", "{}"), stored("algo/wheels/x.whl", "1"), stored("wheels/x.whl", "2")]), code: "2001", message: /"wheels\/x\.whl": duplicate of "algo\/wheels\/x\.whl"/ },
];

describe("openPackageZip refuses zips that are no package", () => {
  it.each(refused)("$title → $code", async ({ bytes, code, message }) => {
    const error = await openPackageZip(zipFile(bytes)).then((zip) => zip.close(), (err: unknown) => err);
    expect(error).toBeInstanceOf(ProcVisionError);
    expect((error as ProcVisionError).code).toBe(code);
    expect((error as ProcVisionError).message).toMatch(message);
    expect((error as ProcVisionError).hint).toBeTruthy();
  });
});

describe("openPackageZip says what to do about a broken package", () => {
  it("a zip the reader refuses (2001) gets the package's hint: rebuild it with procvision-cli package", async () => {
    const error = await openPackageZip(zipFile(forgeZip([manifest, stored("../evil", "x")]))).then((zip) => zip.close(), (err: unknown) => err);
    expect(error).toMatchObject({ code: "2001", message: /"\.\.\/evil": '\.\.' segment/, hint: /rebuild it with procvision-cli package/, details: { rule: "'..' segment (path traversal)" } });
  });
});

describe("openPackageZip places the package", () => {
  it("reads a zip of the original tool (one top-level folder, wheels/ at the root) as if the folder were the root", async () => {
    const zip = await openPackageZip(zipFile(forgeZip([
      stored("algo/"), stored("algo/manifest.json", "{}"), stored("algo/algo/__init__.py", ""), stored("algo/requirements.txt", "numpy==2.0.0\n"),
      stored("wheels/"), stored("wheels/numpy-2.0.0-cp311-cp311-linux_x86_64.whl", "wheel"), stored("README.txt", "outside the package"),
    ])));
    try {
      expect(zip.rootPrefix).toBe("algo/");
      expect([...zip.entries.keys()]).toEqual(["manifest.json", "algo/__init__.py", "requirements.txt", "wheels", "wheels/numpy-2.0.0-cp311-cp311-linux_x86_64.whl"]);
      expect(zip.entries.get("manifest.json")?.zipPath).toBe("algo/manifest.json");
      const target = path.join(mkdtempSync(path.join(work, "compat-")), "out");
      await zip.extractTo(target);
      expect((readdirSync(target, { recursive: true }) as string[]).sort()).toEqual([
        "algo", "algo/__init__.py", "manifest.json", "requirements.txt", "wheels", "wheels/numpy-2.0.0-cp311-cp311-linux_x86_64.whl",
      ]);
    } finally {
      zip.close();
    }
  });

  it("also finds wheels/ inside the top-level folder, and in both places at once", async () => {
    const inside = await openPackageZip(zipFile(forgeZip([stored("algo/manifest.json", "{}"), stored("algo/wheels/x-1.0-py3-none-any.whl", "w")])));
    expect([...inside.entries.keys()]).toEqual(["manifest.json", "wheels/x-1.0-py3-none-any.whl"]);
    inside.close();
    const both = await openPackageZip(zipFile(forgeZip([
      stored("algo/manifest.json", "{}"), stored("algo/wheels/"), stored("algo/wheels/x-1.0-py3-none-any.whl", "x"),
      stored("wheels/"), stored("wheels/y-1.0-py3-none-any.whl", "y"),
    ])));
    expect([...both.entries.keys()]).toEqual(["manifest.json", "wheels", "wheels/x-1.0-py3-none-any.whl", "wheels/y-1.0-py3-none-any.whl"]);
    both.close();
  });

  it("lists the files directly in wheels/ as the package's wheels", async () => {
    const zip = await openPackageZip(zipFile(forgeZip([manifest, stored("wheels/"), stored("wheels/a-1.0-py3-none-any.whl", "a"), stored("wheels/sub/b.whl", "b"), stored("c.whl", "c")])));
    try {
      expect(packageWheels(zip).map((e) => e.path)).toEqual(["wheels/a-1.0-py3-none-any.whl"]);
    } finally {
      zip.close();
    }
  });
});

describe("verifyChecksums", () => {
  const sha = (s: string): string => createHash("sha256").update(s).digest("hex");

  it("accepts an offline package built by buildOfflineZip", async () => {
    const dir = mkdtempSync(path.join(work, "built-"));
    writeFileSync(path.join(dir, "main.py"), "print('hi')\n");
    writeFileSync(path.join(dir, "x-1.0-py3-none-any.whl"), Buffer.alloc(10_000, 3));
    const built = await buildOfflineZip({
      outPath: path.join(dir, "x-v1.0-offline.zip"),
      projectFiles: [{ path: "algo/main.py", absPath: path.join(dir, "main.py"), size: 12, mode: 0o644 }],
      wheelFiles: [{ path: "wheels/x-1.0-py3-none-any.whl", absPath: path.join(dir, "x-1.0-py3-none-any.whl") }],
      extraEntries: [{ path: "manifest.json", data: Buffer.from("{}") }],
    });
    const zip = await openPackageZip(built.path);
    try {
      expect(await verifyChecksums(zip)).toEqual({ ok: true, sha256sums: built.sha256sums });
    } finally {
      zip.close();
    }
  });

  it("reports mismatching, unlisted and absent entries", async () => {
    const sums = `${sha("{}")}  manifest.json\n${sha("tampered")}  a.py\n${sha("gone")}  c.py\n`;
    const zip = await openPackageZip(zipFile(forgeZip([stored("manifest.json", "{}"), stored("a.py", "original"), stored("b.py", "new"), stored("d/"), stored("SHA256SUMS", sums), stored("SIGNATURE", "sig")])));
    try {
      expect(await verifyChecksums(zip)).toEqual({
        ok: false,
        problems: [
          { path: "a.py", problem: "mismatch" },
          { path: "b.py", problem: "missing_from_sums" },
          { path: "c.py", problem: "listed_but_absent" },
        ],
      });
    } finally {
      zip.close();
    }
  });

  it("passes a zip without SHA256SUMS as unverified, and rejects a malformed one with 2008", async () => {
    const plain = await openPackageZip(zipFile(forgeZip([manifest])));
    expect(await verifyChecksums(plain)).toEqual({ ok: true, sha256sums: null });
    plain.close();
    const malformed = await openPackageZip(zipFile(forgeZip([manifest, stored("SHA256SUMS", "garbage\n")])));
    await expect(verifyChecksums(malformed)).rejects.toMatchObject({ code: "2008", message: /SHA256SUMS is malformed: line 1/ });
    malformed.close();
  });
});
