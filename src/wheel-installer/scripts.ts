import type { EntryPoint } from "./metadata.js";

/**
 * The first line(s) that make a script run on the venv's interpreter. Kernels cut a `#!` line at 127 bytes and split
 * it at spaces, so a long or spaced path goes through /bin/sh, as pip (distlib) does.
 */
export function shebang(python: string): string {
  const direct = `#!${python}\n`;
  if (Buffer.byteLength(direct) <= 127 && !/\s/.test(python)) return direct;
  return `#!/bin/sh\n'''exec' "${python.replaceAll("\"", "\\\"")}" "$0" "$@"\n' '''\n`;
}

/** The script pip generates for a `console_scripts`/`gui_scripts` entry point. */
export function launcherScript(entry: EntryPoint, python: string): string {
  const head = entry.attribute.split(".")[0]!;
  return `${shebang(python)}# -*- coding: utf-8 -*-
import re
import sys
from ${entry.module} import ${head}
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit(${entry.attribute}())
`;
}

/**
 * A script from `<name>.data/scripts/`: a first line starting with `#!python` means "the installing interpreter" and
 * is replaced whole, as pip does; any other file is copied as is (null).
 */
export function rewriteScript(content: Buffer, python: string): Buffer | null {
  if (!content.subarray(0, 8).equals(Buffer.from("#!python"))) return null;
  const newline = content.indexOf(0x0a);
  return Buffer.concat([Buffer.from(shebang(python)), newline === -1 ? Buffer.alloc(0) : content.subarray(newline + 1)]);
}

/**
 * pip's special case for its own and setuptools' versioned scripts: a wheel built on another Python names them for
 * that Python (`pip3.12`), so pip drops every `pipX[.Y]` / `easy_install-X.Y` entry and writes `pip`, `pip3`,
 * `pip3.11` (and `easy_install`, `easy_install-3.11`) for the interpreter it installs into.
 */
export function versionedScripts(scripts: readonly EntryPoint[], pythonVersion: string): EntryPoint[] {
  const major = pythonVersion.split(".")[0]!;
  const console = scripts.filter((s) => !s.gui);
  const pip = console.find((s) => s.name === "pip");
  const easyInstall = console.find((s) => s.name === "easy_install");
  const dropped = (s: EntryPoint): boolean => !s.gui && ((pip !== undefined && /^pip(\d+(\.\d+)?)?$/.test(s.name))
    || (easyInstall !== undefined && /^easy_install(-\d+\.\d+)?$/.test(s.name)));
  const as = (entry: EntryPoint, name: string): EntryPoint => ({ ...entry, name });
  return [
    ...(pip === undefined ? [] : [as(pip, "pip"), as(pip, `pip${major}`), as(pip, `pip${pythonVersion}`)]),
    ...(easyInstall === undefined ? [] : [as(easyInstall, "easy_install"), as(easyInstall, `easy_install-${pythonVersion}`)]),
    ...scripts.filter((s) => !dropped(s)),
  ];
}
