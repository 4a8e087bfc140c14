import { lstat, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import ignore from "ignore";
import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { entryNameProblem, foldCase } from "../zip/entry-name.js";
import { compareZipPaths } from "../zip/write.js";

export const IGNORE_FILE = ".procvisionignore";

/**
 * Never packed, whatever `.procvisionignore` says (its `!` rules cannot bring these back). Environments and caches
 * are matched at any depth; build outputs and `wheels/` (filled by the download step) only at the project root,
 * since a source package may well have a sub-package called `build`.
 */
const NEVER_PACKED = [
  ".venv/", "venv/", "__pycache__/", "*.pyc", ".git", "node_modules/", ".pytest_cache/", ".mypy_cache/",
  "*-offline.zip", "*.egg-info/", "/wheels/", "/build/", "/dist/",
  // A zip still being written (`writeZip` names it so), or left by a build that was killed.
  ".*.zip.*.tmp",
];

export interface ProjectFile {
  /** Forward-slash path relative to the project, as it goes into the zip. */
  path: string;
  absPath: string;
  size: number;
  /** Permission bits (`& 0o777`). */
  mode: number;
}

export interface ProjectFiles {
  /** Sorted by path. */
  files: ProjectFile[];
  /** Symbolic links and special files that were skipped. */
  warnings: string[];
}

async function readIgnoreRules(root: string): Promise<string> {
  try {
    return await readFile(path.join(root, IGNORE_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  }
}

/** Throws when a name would make the runner refuse the zip: better now, with the file to rename, than on a station. */
export function assertPackable(files: readonly ProjectFile[]): void {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const file of files) {
    const problem = entryNameProblem(file.path);
    if (problem !== null) problems.push(`${JSON.stringify(file.path)}: ${problem}`);
    const key = foldCase(file.path);
    const other = seen.get(key);
    if (other !== undefined) problems.push(`${JSON.stringify(file.path)} and ${JSON.stringify(other)} differ only in letter case`);
    seen.set(key, file.path);
  }
  if (problems.length > 0) {
    // 2001: the code a station would refuse the zip with.
    throw new ProcVisionError(ErrorCode.invalid_zip, `these project files cannot go into an offline package: ${problems.join("; ")}`, {
      hint: `rename them, or list them in ${IGNORE_FILE}`,
    });
  }
}

/** The files of a project that go into its offline package. */
export async function collectProjectFiles(projectDir: string, outputs: readonly string[] = []): Promise<ProjectFiles> {
  const root = path.resolve(projectDir);
  const never = ignore().add(NEVER_PACKED);
  const listed = ignore().add(await readIgnoreRules(root));
  const own = new Set(outputs.map((o) => path.relative(root, path.resolve(o)).split(path.sep).join("/")));
  const skipped = (rel: string): boolean => own.has(rel) || never.ignores(rel) || listed.ignores(rel);
  const files: ProjectFile[] = [];
  const warnings: string[] = [];

  const walk = async (relDir: string): Promise<void> => {
    for (const dirent of await readdir(path.join(root, relDir), { withFileTypes: true })) {
      const rel = relDir === "" ? dirent.name : `${relDir}/${dirent.name}`;
      if (dirent.isDirectory()) {
        if (!skipped(`${rel}/`)) await walk(rel);
      } else if (skipped(rel)) {
        continue;
      } else if (dirent.isSymbolicLink()) {
        warnings.push(`skipped symbolic link ${rel} (copy the target into the project if it is needed)`);
      } else if (!dirent.isFile()) {
        warnings.push(`skipped ${rel}: not a regular file`);
      } else {
        const absPath = path.join(root, rel);
        const stats = await lstat(absPath);
        files.push({ path: rel, absPath, size: stats.size, mode: stats.mode & 0o777 });
      }
    }
  };
  await walk("");

  files.sort((a, b) => compareZipPaths(a.path, b.path));
  assertPackable(files);
  return { files, warnings };
}
