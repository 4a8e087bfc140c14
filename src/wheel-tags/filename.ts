import { explain } from "@renovatebot/pep440";
import { normalizeName } from "../requirements/parse.js";

export interface WheelFilename {
  /** The file name without any directory. */
  fileName: string;
  /** As written in the file name (PEP 427 escapes `-` as `_`). */
  distribution: string;
  normalizedName: string;
  version: string;
  build?: string;
  /** Every `python-abi-platform` triple, compressed tag sets expanded. */
  tags: string[];
}

export type WheelFilenameParse = { ok: true; wheel: WheelFilename } | { ok: false; reason: string };

const DISTRIBUTION = /^[A-Za-z0-9._]+$/;
const TAG_SET = /^[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*$/;
const FORM = "{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl";

/** PEP 427 wheel file name → its parts; a directory in front (`wheels/x.whl`) is ignored. */
export function parseWheelFilename(file: string): WheelFilenameParse {
  const fileName = file.slice(Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\")) + 1);
  const fail = (why: string): WheelFilenameParse => ({ ok: false, reason: `invalid wheel file name ${JSON.stringify(fileName)}: ${why}` });
  if (!fileName.endsWith(".whl")) return fail("expected a .whl file");
  const parts = fileName.slice(0, -".whl".length).split("-");
  if (parts.length !== 5 && parts.length !== 6) return fail(`expected ${FORM}`);
  const [distribution = "", version = ""] = parts;
  const [python = "", abi = "", platform = ""] = parts.slice(-3);
  const build = parts.length === 6 ? parts[2] : undefined;
  if (!DISTRIBUTION.test(distribution)) return fail(`expected a distribution name of letters, digits, "_" and ".", got ${JSON.stringify(distribution)}`);
  if (explain(version) === null) return fail(`expected a PEP 440 version, got ${JSON.stringify(version)}`);
  if (build !== undefined && !/^\d/.test(build)) return fail(`expected a build tag that starts with a digit, got ${JSON.stringify(build)}`);
  for (const [what, tag] of [["a python", python], ["an abi", abi], ["a platform", platform]] as const) {
    if (!TAG_SET.test(tag)) return fail(`expected ${what} tag, got ${JSON.stringify(tag)}`);
  }
  const wheel: WheelFilename = { fileName, distribution, normalizedName: normalizeName(distribution), version, tags: expandTag(`${python}-${abi}-${platform}`) };
  if (build !== undefined) wheel.build = build;
  return { ok: true, wheel };
}

/** `py2.py3-none-any` → `py2-none-any`, `py3-none-any` (compressed tag sets, PEP 425). */
export function expandTag(tag: string): string[] {
  const [py = "", abi = "", plat = ""] = tag.split("-");
  return py.split(".").flatMap((p) => abi.split(".").flatMap((a) => plat.split(".").map((pl) => `${p}-${a}-${pl}`)));
}
