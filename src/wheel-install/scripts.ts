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
