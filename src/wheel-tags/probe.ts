import { z } from "zod";
import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { parseWithIssues } from "../manifest/issues.js";
import type { WheelTarget } from "./supported.js";

/**
 * Python (stdlib only) that prints what a real interpreter accepts as JSON: `{"python_version": "3.11",
 * "implementation": "cp", "abi": "cp311", "platforms": ["linux_x86_64", "manylinux_2_36_x86_64"]}`. The glibc
 * version comes from the C library the interpreter runs on, as packaging.tags finds it; musl is not detected.
 */
export const INTERPRETER_PROBE = String.raw`
import json, os, sys, sysconfig

SHORT = {"cpython": "cp", "pypy": "pp", "ironpython": "ip", "jython": "jy"}
name = sys.implementation.name
major, minor = sys.version_info[:2]

soabi = (sysconfig.get_config_var("SOABI") or "").split("-")
if name == "cpython":
    if soabi[0] == "cpython" and len(soabi) > 1:
        abi = "cp" + soabi[1]  # cpython-311-x86_64-linux-gnu, cpython-313t-...
    elif soabi[0].startswith("cp"):
        abi = soabi[0]  # cp313-win_amd64 (Windows, 3.13+)
    else:  # older Windows builds have no SOABI
        abi = "cp%d%d%s" % (major, minor, "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "")
elif name == "pypy" and len(soabi) > 1:
    # pypy310-pp73-x86_64-linux-gnu
    abi = soabi[0] + "_" + soabi[1]
else:
    abi = "_".join(soabi).replace(".", "_") or "none"

platform = sysconfig.get_platform().replace("-", "_").replace(".", "_").replace(" ", "_")
platforms = [platform]
if platform.startswith("linux_"):
    arch = platform[len("linux_"):]
    if arch == "x86_64" and sys.maxsize <= 2 ** 32:
        arch = "i686"  # a 32-bit interpreter on a 64-bit kernel
    platforms = ["linux_" + arch]
    try:
        libc, version = os.confstr("CS_GNU_LIBC_VERSION").split()
    except (AttributeError, OSError, ValueError):
        libc = version = ""  # not glibc, or no confstr
    if libc == "glibc":
        glibc_major, glibc_minor = version.split(".")[:2]
        platforms.append("manylinux_%s_%s_%s" % (glibc_major, glibc_minor, arch))

print(json.dumps({
    "python_version": "%d.%d" % (major, minor),
    "implementation": SHORT.get(name, name),
    "abi": abi,
    "platforms": platforms,
}))
`;

const probeSchema = z.object({
  python_version: z.string().regex(/^\d+\.\d+$/, { error: 'expected "major.minor"' }),
  implementation: z.string().min(1),
  abi: z.string().min(1),
  platforms: z.array(z.string().min(1)).min(1),
});

/** The target a real interpreter is, from the parsed JSON `INTERPRETER_PROBE` printed. */
export function interpreterTarget(probe: unknown): WheelTarget {
  const parsed = parseWithIssues(probeSchema, probe, "probe");
  if (!parsed.ok) {
    throw new ProcVisionError(ErrorCode.incompatible_python, `unexpected interpreter probe output: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`, {
      hint: "the interpreter could not describe itself; check that it is CPython 3 and runs `python -c` normally",
      details: { probe },
    });
  }
  const { python_version, implementation, abi, platforms } = parsed.data;
  return { pythonVersion: python_version, implementation, abi, platforms };
}
