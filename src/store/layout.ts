import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { packageZipName, RUNTIME_DIR } from "../offline-package/layout.js";
import { venvPython } from "../python/project-python.js";
import { runtimeEnv, runtimeInterpreter } from "../python/runtime.js";
import type { WorkerLaunch } from "../worker/env.js";

/** The store's directory layout (contract §7 Store). */
export interface StoreLayout {
  root: string;
  zips: string;
  deployed: string;
  logs: string;
  db: string;
  /** Held while an install, uninstall or recovery changes deployed/: one runner process at a time. */
  lock: string;
  /** An install's scratch space on the same file system as deployed/ (an embedded runtime probed before it is
   * registered, then moved in); emptied by recovery. */
  staging: string;
}

export function storeLayout(root: string): StoreLayout {
  const abs = path.resolve(root);
  return {
    root: abs,
    zips: path.join(abs, "zips"),
    deployed: path.join(abs, "deployed"),
    logs: path.join(abs, "logs"),
    db: path.join(abs, "runner.db"),
    lock: path.join(abs, "install.lock"),
    staging: path.join(abs, "staging"),
  };
}

export async function createLayout(layout: StoreLayout): Promise<void> {
  for (const dir of [layout.root, layout.zips, layout.deployed, layout.logs]) await mkdir(dir, { recursive: true });
}

/** deployed/<name>/<version>/ — name and version were checked by the manifest schema to be safe as path segments. */
export function packageDir(layout: StoreLayout, name: string, version: string): string {
  return path.join(layout.deployed, name, version);
}

/** The archived zip, named as `procvision-cli package` names it. */
export function archivedZip(layout: StoreLayout, name: string, version: string): string {
  return path.join(layout.zips, packageZipName(name, version));
}

/**
 * How every worker of an installed package starts: the supervisor's workers and the install's smoke check alike, so
 * a package that passes the smoke check starts. The venv's interpreter, the package dir as cwd, and no additions but
 * what the package's embedded Python runtime needs (its LD_LIBRARY_PATH), when it has one.
 */
export function packageWorkerLaunch(dir: string): WorkerLaunch {
  return { python: packagePython(dir), cwd: dir, env: packageEnv(dir) };
}

/** The embedded runtime of an installed package directory, when it has one. */
export function packageRuntime(packageDir: string): { dir: string; python: string | undefined } | undefined {
  const dir = path.join(path.resolve(packageDir), RUNTIME_DIR);
  return existsSync(dir) ? { dir, python: runtimeInterpreter(dir) } : undefined;
}

/** The environment additions for running a package's Python: its runtime's when it embeds one, else none. */
export function packageEnv(packageDir: string, parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const runtime = packageRuntime(packageDir);
  return runtime === undefined ? {} : runtimeEnv(runtime.dir, parent);
}

/** The venv interpreter of an installed package. */
export function packagePython(dir: string): string {
  return venvPython(path.join(dir, "venv"));
}
