import { readdir, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { archivedZip, type StoreLayout } from "./layout.js";
import type { PackageRecord, Repository } from "./repository.js";

export interface RecoveredItem {
  name: string;
  version: string;
  /** `installing`: a half-done install was removed; `removing`: an interrupted uninstall was finished;
   * `orphan`: a directory under deployed/ without a registry row was removed. */
  kind: "installing" | "removing" | "orphan";
  message: string;
}

export interface RecoveryReport {
  removed: RecoveredItem[];
  /** Set when recovery did not run because another live runner process holds the install lock. */
  skipped?: string;
}

/** Where the HTTP API keeps an uploaded zip while it is installed (under zips/, so it is on the same file system). */
export const UPLOADS_DIR = ".uploads";

/** Deletes a package's files: its directory, and its archived zip unless that zip is the operator's own source file. */
export async function removePackageFiles(layout: StoreLayout, p: Pick<PackageRecord, "name" | "version" | "dir" | "source_zip">): Promise<void> {
  await rm(p.dir, { recursive: true, force: true });
  const archive = archivedZip(layout, p.name, p.version);
  if (p.source_zip === null || path.resolve(p.source_zip) !== archive) await rm(archive, { force: true });
  // An empty deployed/<name>/ is left from the last version.
  await rmdir(path.dirname(p.dir)).catch(() => undefined);
}

async function dirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).map((d) => d.name);
  } catch {
    return [];
  }
}

/**
 * Brings the store back to "every package absent or complete" after a crash (contract §7): rows still `installing`
 * lose their directory and row, rows `removing` are finished, and directories under deployed/ that no row claims
 * (an install killed between mkdir and its row, which cannot happen, or files copied in by hand) are removed, and so
 * is an install's scratch space (staging/).
 * The caller must hold the install lock.
 */
export async function recoverStore(layout: StoreLayout, repo: Repository): Promise<RecoveryReport> {
  const removed: RecoveredItem[] = [];
  for (const p of repo.listPackages()) {
    if (p.state !== "installing" && p.state !== "removing") continue;
    await removePackageFiles(layout, p);
    repo.deletePackage(p.name, p.version);
    removed.push(p.state === "installing"
      ? { name: p.name, version: p.version, kind: "installing", message: `removed half-done install of ${p.name} ${p.version}` }
      : { name: p.name, version: p.version, kind: "removing", message: `finished interrupted removal of ${p.name} ${p.version}` });
  }
  const known = new Set(repo.listPackages().map((p) => path.resolve(p.dir)));
  for (const name of await dirs(layout.deployed)) {
    const nameDir = path.join(layout.deployed, name);
    for (const version of await dirs(nameDir)) {
      const dir = path.join(nameDir, version);
      if (known.has(dir)) continue;
      await rm(dir, { recursive: true, force: true });
      removed.push({ name, version, kind: "orphan", message: `removed ${path.relative(layout.root, dir)}: no registry row claims it` });
    }
    if ((await dirs(nameDir)).length === 0) await rm(nameDir, { recursive: true, force: true });
  }
  await rm(layout.staging, { recursive: true, force: true });
  // Uploads the HTTP API was installing when the runner died (it removes them itself otherwise).
  await rm(path.join(layout.zips, UPLOADS_DIR), { recursive: true, force: true });
  for (const file of await dirs(layout.zips)) {
    if (file.includes(".partial-")) await rm(path.join(layout.zips, file), { force: true });
  }
  return { removed };
}
