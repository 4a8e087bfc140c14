import path from "node:path";

/**
 * Host variables a worker may inherit. Everything else (PYTHONPATH, PYTHONHOME, PIP_*, tokens, the runner's own
 * settings) stays out, so a station's shell profile cannot change what an algorithm imports.
 */
const INHERITED = [
  "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
  // Windows needs these to start any process at all.
  "SYSTEMROOT", "SystemRoot", "WINDIR", "COMSPEC", "PATHEXT", "USERPROFILE",
  // Hardware/runtime tuning an operator sets on purpose for the machine.
  "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
  "OPENBLAS_L2_SIZE", "LD_LIBRARY_PATH",
  // The file-backed shared-memory seam must be seen by both sides.
  "PROC_SHM_DIR",
] as const;

/**
 * How a worker process starts, apart from its arguments: the interpreter, the cwd, and what is set on top of the
 * allow-listed environment (an embedded runtime adds its LD_LIBRARY_PATH here). Nothing goes on PYTHONPATH: what a
 * worker imports is what its venv holds.
 */
export interface WorkerLaunch {
  /** Absolute path of the interpreter. */
  python: string;
  cwd: string;
  env: Readonly<Record<string, string>>;
}

export interface WorkerEnvOptions {
  /** Directories put on PYTHONPATH, e.g. the CLI's bundled SDK when the project's Python lacks it. */
  pythonPath?: readonly string[];
  /** Extra variables set by the caller on purpose; they win over inherited ones. */
  extra?: Readonly<Record<string, string>>;
}

export function buildWorkerEnv(parent: NodeJS.ProcessEnv, options: WorkerEnvOptions = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED) {
    const value = parent[key];
    if (value !== undefined) env[key] = value;
  }
  if (env.LANG === undefined) env.LANG = "C.UTF-8";
  env.PYTHONNOUSERSITE = "1";
  env.PYTHONIOENCODING = "utf-8";
  if (options.pythonPath && options.pythonPath.length > 0) env.PYTHONPATH = options.pythonPath.join(path.delimiter);
  return { ...env, ...options.extra };
}
