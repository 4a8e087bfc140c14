import { z } from "zod";
import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { probeFailure, runProbe } from "../python/probe.js";
import type { MarkerEnvironment } from "../requirements/index.js";

/**
 * Python (stdlib only) run by the target venv's interpreter: where each part of a wheel goes (the install scheme, as
 * sysconfig gives it inside the venv) and the PEP 508 marker environment, as packaging's `default_environment`.
 * `headers` is pip's location for a venv.
 */
export const SCHEME_PROBE = String.raw`
import json, os, platform, sys, sysconfig

def full_version(info):
    version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version

paths = sysconfig.get_paths()
print(json.dumps({
    "executable": sys.executable,
    "paths": {
        "purelib": paths["purelib"], "platlib": paths["platlib"], "scripts": paths["scripts"], "data": paths["data"],
        "headers": os.path.join(sys.prefix, "include", "site", "python%d.%d" % sys.version_info[:2]),
    },
    "markers": {
        "implementation_name": sys.implementation.name,
        "implementation_version": full_version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    },
}))
`;

const schemeSchema = z.object({
  executable: z.string().min(1),
  paths: z.object({ purelib: z.string(), platlib: z.string(), scripts: z.string(), data: z.string(), headers: z.string() }),
  markers: z.record(z.string(), z.string()),
});

/** The five places of a wheel's `.data/<key>/` directories (and the root, which is purelib or platlib). */
export type SchemeKey = "purelib" | "platlib" | "scripts" | "data" | "headers";

export interface InstallScheme {
  /** The venv's interpreter, as it names itself: what generated scripts run. */
  executable: string;
  paths: Record<SchemeKey, string>;
  /** Complete: every variable is known, so a marker on a dependency is decided, never assumed. */
  markers: MarkerEnvironment;
}

export function isSchemeKey(key: string): key is SchemeKey {
  return key === "purelib" || key === "platlib" || key === "scripts" || key === "data" || key === "headers";
}

/** Asks the venv's interpreter for its scheme and marker environment. */
export async function probeScheme(venvPython: string, env: Record<string, string>): Promise<InstallScheme> {
  let json: unknown;
  try {
    json = await runProbe(venvPython, SCHEME_PROBE, { env, timeoutMs: 60_000 });
  } catch (err) {
    throw new ProcVisionError(ErrorCode.install_failed, `the venv interpreter ${venvPython} cannot describe its install scheme: ${probeFailure(err)}`, {
      hint: "the venv is broken: check that the runner's Python starts normally, then install again",
    });
  }
  const parsed = schemeSchema.safeParse(json);
  if (!parsed.success) {
    throw new ProcVisionError(ErrorCode.install_failed, `unexpected install scheme from ${venvPython}: ${parsed.error.message}`, {
      hint: "the interpreter is not a CPython 3 the runner supports",
    });
  }
  return parsed.data;
}
