// Offline package zips of the example algorithm for the runner store tests, built with the product's own
// buildOfflineZip from real wheels: the SDK wheel from dist/sdk and numpy from .cache/wheels.
import type { KeyObject } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import yauzl from "yauzl";
import { buildOfflineZip, collectProjectFiles, SHA256SUMS } from "../../src/offline-package/index.js";
import { writeDeterministicZip } from "../../src/zip/write.js";
import { repoRoot } from "./python.js";

export const EXAMPLE = path.join(repoRoot, "examples", "algorithm-example");
export const NUMPY_WHEEL_PREFIX = "numpy-2.2.6-cp311-cp311-";

/** The wheels an installable example package needs; a clear error when the cache lacks them. */
/** The version of the SDK in this checkout (what `npm run build` puts into dist/sdk). */
export const SDK_VERSION = /__version__\s*=\s*"([^"]+)"/.exec(readFileSync(path.join(repoRoot, "sdk", "python", "procvision_algorithm_sdk", "__init__.py"), "utf8"))?.[1] ?? "unknown";

export function realWheels(): { sdk: string; numpy: string } {
  const sdkDir = path.join(repoRoot, "dist", "sdk");
  const sdk = existsSync(sdkDir) ? readdirSync(sdkDir).find((f) => f.startsWith(`procvision_algorithm_sdk-${SDK_VERSION}-`) && f.endsWith(".whl")) : undefined;
  const cache = path.join(repoRoot, ".cache", "wheels");
  const numpy = existsSync(cache) ? readdirSync(cache).find((f) => f.startsWith(NUMPY_WHEEL_PREFIX) && f.includes("manylinux")) : undefined;
  if (!sdk) throw new Error("dist/sdk has no SDK wheel: run `npx tsx scripts/build-sdk-wheel.ts`");
  if (!numpy) throw new Error("no numpy 2.2.6 cp311 manylinux wheel in .cache/wheels: run `npx tsx scripts/test-python.ts`");
  return { sdk: path.join(sdkDir, sdk), numpy: path.join(cache, numpy) };
}

export interface ExampleZipOptions {
  name?: string;
  version?: string;
  pids?: string[];
  /** Replaces the wheels (absolute paths); default: numpy + SDK. */
  wheels?: string[];
  requirements?: string;
  /** `.procvision_env.json`; null leaves it out. Default: this machine's CPython 3.11 manylinux target. */
  envFile?: Record<string, unknown> | null;
  signingKey?: KeyObject;
  /** Edits the copied project before packing (e.g. break the algorithm). */
  mutate?: (projectDir: string) => void;
  /** Output file name. */
  fileName?: string;
}

export const LOCAL_ENV = { python_version: "3.11", implementation: "cp", abi: "cp311", wheels_platform: ["manylinux_2_17_x86_64"] };

/** A copy of the example project with another name/version/PIDs (manifest and get_info agree), zipped. */
export async function exampleZip(outDir: string, o: ExampleZipOptions = {}): Promise<string> {
  const project = mkdtempSync(path.join(outDir, "project-"));
  cpSync(EXAMPLE, project, { recursive: true });
  const name = o.name ?? "algorithm-example";
  const version = o.version ?? "1.0";
  const pids = o.pids ?? ["p001", "p002"];
  const manifestFile = path.join(project, "manifest.json");
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as Record<string, unknown>;
  writeFileSync(manifestFile, JSON.stringify({ ...manifest, name, version, supported_pids: pids }, null, 2));
  const mainFile = path.join(project, "algorithm_example", "main.py");
  writeFileSync(mainFile, readFileSync(mainFile, "utf8")
    .replace(/^NAME = .*$/m, `NAME = ${JSON.stringify(name)}`)
    .replace(/^VERSION = .*$/m, `VERSION = ${JSON.stringify(version)}`)
    .replace(/^SUPPORTED_PIDS = .*$/m, `SUPPORTED_PIDS = ${JSON.stringify(pids)}`));
  o.mutate?.(project);
  return packProject(project, path.join(outDir, o.fileName ?? `${name}-v${version}-offline.zip`), o);
}

export const G3_FIXTURE = path.join(repoRoot, "test", "fixtures", "g3");

/** The G3 fixture (written for the original SDK 0.3.x: execute only, minimal manifest), packed as an offline zip. */
export function g3Zip(outDir: string): Promise<string> {
  return packProject(G3_FIXTURE, path.join(outDir, "g3-algo-v1.0-offline.zip"), {});
}

/** A project directory as an offline zip: real wheels (default numpy + SDK), pinned requirements, the target env file. */
async function packProject(project: string, outPath: string, o: Pick<ExampleZipOptions, "wheels" | "requirements" | "envFile" | "signingKey">): Promise<string> {
  const wheels = o.wheels ?? Object.values(realWheels());
  const envFile = o.envFile === undefined ? LOCAL_ENV : o.envFile;
  await buildOfflineZip({
    outPath,
    projectFiles: (await collectProjectFiles(project)).files,
    wheelFiles: wheels.map((w) => ({ path: `wheels/${path.basename(w)}`, absPath: w })),
    extraEntries: [
      { path: "requirements.txt", data: Buffer.from(o.requirements ?? `numpy==2.2.6\nprocvision_algorithm_sdk==${SDK_VERSION}\n`) },
      ...(envFile === null ? [] : [{ path: ".procvision_env.json", data: Buffer.from(JSON.stringify(envFile)) }]),
    ],
    ...(o.signingKey ? { signingKey: o.signingKey } : {}),
  });
  return outPath;
}

/** Every entry of a zip, as data. */
export async function readEntries(file: string): Promise<{ path: string; data: Buffer }[]> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
  const out: { path: string; data: Buffer }[] = [];
  for await (const entry of zip.eachEntry()) {
    if (entry.fileName.endsWith("/")) continue;
    const chunks: Buffer[] = [];
    for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
    out.push({ path: entry.fileName, data: Buffer.concat(chunks) });
  }
  zip.close();
  return out;
}

/** Rewrites a zip with entries changed: `edit` returns the new list. */
export async function rewriteZip(source: string, outPath: string, edit: (entries: { path: string; data: Buffer }[]) => { path: string; data: Buffer }[]): Promise<string> {
  const entries = edit(await readEntries(source));
  await writeDeterministicZip(outPath, entries.map((e) => ({ ...e, store: e.path.endsWith(".whl") })));
  return outPath;
}

/** The zip without SHA256SUMS (as other tools build them). */
export const withoutSums = (source: string, outPath: string): Promise<string> =>
  rewriteZip(source, outPath, (entries) => entries.filter((e) => e.path !== SHA256SUMS && e.path !== "SIGNATURE"));
