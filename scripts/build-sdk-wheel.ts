// Builds the SDK wheel that ships inside the npm package (dist/sdk/), hermetically: no pip, no network.
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { wheelFileName, writeWheel } from "../src/wheel-builder/write.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const sdkRoot = path.join(root, "sdk", "python");
const pkg = "procvision_algorithm_sdk";

async function collect(dir: string): Promise<{ path: string; data: Buffer }[]> {
  const out: { path: string; data: Buffer }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "__pycache__") out.push(...(await collect(full)));
    } else if (!entry.name.endsWith(".pyc")) {
      out.push({ path: path.relative(sdkRoot, full).split(path.sep).join("/"), data: await readFile(full) });
    }
  }
  return out;
}

const init = await readFile(path.join(sdkRoot, pkg, "__init__.py"), "utf8");
const version = /__version__\s*=\s*["']([^"']+)["']/.exec(init)?.[1];
if (!version) throw new Error(`no __version__ in ${pkg}/__init__.py`);
const spec = {
  name: pkg, version, tag: "py3-none-any",
  files: await collect(path.join(sdkRoot, pkg)),
  requiresDist: ["numpy"], requiresPython: ">=3.9",
  summary: "ProcVision algorithm SDK: BaseAlgorithm, Session, shared-memory images, worker adapter",
};
const outDir = path.join(root, "dist", "sdk");
await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });
const out = path.join(outDir, wheelFileName(spec));
await writeWheel(out, spec);
console.log(`built ${path.relative(root, out)} (${spec.files.length} files)`);
