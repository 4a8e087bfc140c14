import { lstat, readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { compareZipPaths } from "../zip/write.js";
import { RUNTIME_DIR } from "./layout.js";
import { assertPackable, type ProjectFile } from "./project-files.js";

export interface RuntimeFiles {
  /** Sorted by path, each under `python_runtime/`. */
  files: ProjectFile[];
  /** Symbolic links stored as copies of their target (a zip carries no links: the runner refuses them). */
  links: number;
}

/**
 * The files of an embedded runtime as package entries under `python_runtime/`. A symbolic link inside the runtime
 * (bin/python3 → python3.12, lib/libpython3.12.so → libpython3.12.so.1.0) is stored as a copy of the file it names, so
 * every name the runtime's loader or scripts may use exists on the station. A link that leaves the runtime (a venv's
 * bin/python → /usr/bin/python3) means the directory is not a self-contained runtime: refused. Bytecode caches are
 * never packed (contract §1): they change whenever the runtime runs, and the station compiles its own.
 */
export async function collectRuntimeFiles(runtimeDir: string): Promise<RuntimeFiles> {
  const root = await realpath(path.resolve(runtimeDir));
  const files: ProjectFile[] = [];
  let links = 0;
  const walk = async (relDir: string): Promise<void> => {
    for (const dirent of await readdir(path.join(root, relDir), { withFileTypes: true })) {
      const rel = relDir === "" ? dirent.name : `${relDir}/${dirent.name}`;
      const abs = path.join(root, rel);
      if (dirent.name === "__pycache__" || dirent.name.endsWith(".pyc")) continue;
      if (dirent.isDirectory()) {
        await walk(rel);
      } else if (dirent.isSymbolicLink()) {
        const target = await realpath(abs).catch(() => undefined);
        if (target === undefined) throw new Error(`${abs} is a broken symbolic link`);
        if (!target.startsWith(root + path.sep)) {
          throw new Error(`${abs} links to ${target}, outside the runtime: a Python runtime to embed must be self-contained (a venv is not; pass the CPython installation it was made from)`);
        }
        const stats = await stat(target);
        if (!stats.isFile()) throw new Error(`${abs} links to the directory ${target}: copy the runtime with such links resolved`);
        files.push({ path: `${RUNTIME_DIR}/${rel}`, absPath: target, size: stats.size, mode: stats.mode & 0o777 });
        links += 1;
      } else if (dirent.isFile()) {
        const stats = await lstat(abs);
        files.push({ path: `${RUNTIME_DIR}/${rel}`, absPath: abs, size: stats.size, mode: stats.mode & 0o777 });
      } else {
        throw new Error(`${abs} is not a regular file`);
      }
    }
  };
  await walk("");
  files.sort((a, b) => compareZipPaths(a.path, b.path));
  assertPackable(files);
  return { files, links };
}
