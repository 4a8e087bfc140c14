// A real ZIP64 package: a wheel over 4 GiB (sparse on disk, so it costs no disk to make) and entries past the 4 GiB
// offset. It writes a 4 GiB zip, so `npm test` runs it in the heavy phase, alone (test/offline-package.test.ts also covers
// the ZIP64 records cheaply with a lowered threshold).
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import yauzl from "yauzl";
import { afterAll, describe, expect, it } from "vitest";
import { buildOfflineZip, openPackageZip, verifyChecksums } from "../../src/offline-package/index.js";
import { testPython } from "../helpers/python.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-zip64-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("ZIP64 beyond 4 GiB", () => {
  it("packs a wheel over 4 GiB and entries past the 4 GiB offset that every reader accepts", async () => {
    const huge = path.join(work, "huge.whl");
    const fd = openSync(huge, "w");
    ftruncateSync(fd, 2 ** 32 + 12345);
    closeSync(fd);
    writeFileSync(path.join(work, "main.py"), "print('after 4 GiB')\n");
    const out = path.join(work, "big-v1-offline.zip");
    const result = await buildOfflineZip({
      outPath: out,
      projectFiles: [],
      wheelFiles: [
        { path: "wheels/a_huge-1.0-py3-none-any.whl", absPath: huge },
        { path: "wheels/b_small-1.0-py3-none-any.whl", absPath: path.join(work, "main.py") },
      ],
      extraEntries: [{ path: "manifest.json", data: Buffer.from("{}") }, { path: "zz/after.py", data: Buffer.from("x = 1\n") }],
    });
    expect(result.size).toBe(statSync(out).size);
    expect(result.size).toBeGreaterThan(2 ** 32);

    const zip = await yauzl.openPromise(out, { lazyEntries: true, autoClose: false });
    const central: { name: string; offset: number; size: number }[] = [];
    for await (const e of zip.eachEntry()) central.push({ name: e.fileName, offset: e.relativeOffsetOfLocalHeader, size: e.uncompressedSize });
    zip.close();
    expect(central.map((c) => c.name)).toEqual(["SHA256SUMS", "manifest.json", "wheels/a_huge-1.0-py3-none-any.whl", "wheels/b_small-1.0-py3-none-any.whl", "zz/after.py"]);
    expect(central.find((c) => c.name.includes("a_huge"))!.size).toBe(2 ** 32 + 12345);
    for (const name of ["SHA256SUMS", "wheels/b_small-1.0-py3-none-any.whl", "zz/after.py"]) {
      expect(central.find((c) => c.name === name)!.offset).toBeGreaterThan(2 ** 32);
    }

    const safe = await openPackageZip(out, { maxTotalBytes: 2 ** 34 });
    try {
      expect(await verifyChecksums(safe)).toEqual({ ok: true, sha256sums: result.sha256sums });
    } finally {
      safe.close();
    }
    expect(execFileSync(testPython(), ["-m", "zipfile", "-t", out]).toString()).toMatch(/Done testing/);
    expect(execFileSync("unzip", ["-tq", out]).toString()).toMatch(/No errors detected/);
  }, 600_000);
});
