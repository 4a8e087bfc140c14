import { isLocalPath, type DroppedLine } from "./parse.js";

export interface FrozenRequirements {
  /** The lines to write as requirements.txt, in `pip freeze` order. */
  kept: string[];
  dropped: DroppedLine[];
}

function dropReason(line: string): string | undefined {
  if (/^(-e|--editable)(\s|=|$)/.test(line)) return "editable install: build a wheel of it and pin name==version, or ship it as source in the package";
  if (/^\S+\s*@\s*file:/i.test(line)) return "installed from a local file: pin a released version, or put its wheel in a find_links directory";
  if (isLocalPath(line)) return "a local path, not a distribution an index can provide";
  return undefined;
}

/** `pip freeze` output without what cannot be downloaded for another machine (contract §2 package step 2). */
export function filterFreezeOutput(pipFreezeText: string): FrozenRequirements {
  const kept: string[] = [];
  const dropped: DroppedLine[] = [];
  pipFreezeText.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const reason = dropReason(line);
    if (reason === undefined) kept.push(line);
    else dropped.push({ line, lineNumber: index + 1, reason });
  });
  return { kept, dropped };
}
