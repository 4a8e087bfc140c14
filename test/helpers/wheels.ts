import path from "node:path";
import { wheelFileName, writeWheel } from "../../src/wheel-builder/write.js";

/** A small real wheel (importable module `<name>` with `__version__`) with chosen tags, for index tests. */
export async function fakeWheel(dir: string, spec: { name: string; version: string; tag: string; requires?: string[] }): Promise<string> {
  const module = spec.name.replace(/[-.]/g, "_");
  const file = path.join(dir, wheelFileName(spec));
  await writeWheel(file, {
    name: spec.name, version: spec.version, tag: spec.tag,
    files: [{ path: `${module}/__init__.py`, data: Buffer.from(`__version__ = "${spec.version}"\n`) }],
    ...(spec.requires ? { requiresDist: spec.requires } : {}),
  });
  return file;
}
