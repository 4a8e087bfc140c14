// The text files inside a wheel's .dist-info that decide how it installs: METADATA, WHEEL, entry_points.txt, RECORD.

/** RFC 822 style headers (METADATA, WHEEL): every value of each field, in order; the body after the blank line is ignored. */
export function parseHeaders(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  let last: string[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === "") break;
    if (/^[ \t]/.test(line) && last !== undefined) {
      last[last.length - 1] += `\n${line.trim()}`; // folded continuation
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    last = fields.get(key) ?? [];
    last.push(line.slice(colon + 1).trim());
    fields.set(key, last);
  }
  return fields;
}

export interface CoreMetadata {
  /** `Requires-Dist` lines as written (PEP 508). */
  requiresDist: string[];
  requiresPython?: string;
}

export function parseCoreMetadata(text: string): CoreMetadata {
  const fields = parseHeaders(text);
  const requiresPython = fields.get("requires-python")?.[0];
  return { requiresDist: fields.get("requires-dist") ?? [], ...(requiresPython ? { requiresPython } : {}) };
}

export interface WheelInfo {
  /** `Root-Is-Purelib`: the root goes to purelib (true) or platlib (false). Both are site-packages in a venv. */
  rootIsPurelib: boolean;
}

/** The WHEEL file; a wheel format other than 1.x is refused as the spec says (returned as a string). */
export function parseWheelInfo(text: string): WheelInfo | string {
  const fields = parseHeaders(text);
  const version = fields.get("wheel-version")?.[0];
  if (version === undefined) return "WHEEL has no Wheel-Version";
  if (!/^1(\.\d+)?$/.test(version)) return `Wheel-Version ${version} is not supported (only 1.x)`;
  return { rootIsPurelib: (fields.get("root-is-purelib")?.[0] ?? "").toLowerCase() === "true" };
}

export interface EntryPoint {
  /** The script's name in bin/. */
  name: string;
  module: string;
  /** Dotted attribute path inside the module, e.g. `main` or `cli.run`. */
  attribute: string;
  gui: boolean;
}

const ENTRY_POINT = /^([\w.]+)\s*:\s*([\w.]+)\s*(?:\[[^\]]*\])?\s*$/;

/**
 * The `console_scripts` and `gui_scripts` of entry_points.txt (an INI file). A script that does not name a
 * `module:attribute` cannot be generated: returned as a string, as pip refuses it.
 */
export function parseEntryPoints(text: string): EntryPoint[] | string {
  const scripts: EntryPoint[] = [];
  let section = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.*)\]$/.exec(line);
    if (header) {
      section = header[1]!.trim();
      continue;
    }
    if (section !== "console_scripts" && section !== "gui_scripts") continue;
    const eq = line.indexOf("=");
    if (eq <= 0) return `entry_points.txt: expected "name = module:attribute" in [${section}], got ${JSON.stringify(line)}`;
    const name = line.slice(0, eq).trim();
    const target = ENTRY_POINT.exec(line.slice(eq + 1).trim());
    if (!target || /[/\\]/.test(name) || name.startsWith(".")) {
      return `entry_points.txt: invalid script ${JSON.stringify(line)} in [${section}] (expected "name = module:attribute")`;
    }
    scripts.push({ name, module: target[1]!, attribute: target[2]!, gui: section === "gui_scripts" });
  }
  return scripts;
}

export interface RecordRow {
  path: string;
  hash: string;
  size: string;
}

/** One CSV field, quoted when it must be (paths may hold commas or quotes). */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll("\"", "\"\"")}"` : value;
}

export function formatRecord(rows: readonly RecordRow[]): string {
  return rows.map((r) => [r.path, r.hash, r.size].map(csvField).join(",")).join("\n") + "\n";
}

/** RECORD (CSV: path, hash, size); malformed lines are skipped: the hashes are kept, not trusted. */
export function parseRecord(text: string): RecordRow[] {
  const rows: RecordRow[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === "") continue;
    const fields: string[] = [];
    let field = "";
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (quoted) {
        if (c === "\"" && line[i + 1] === "\"") {
          field += "\"";
          i++;
        } else if (c === "\"") quoted = false;
        else field += c;
      } else if (c === "\"") quoted = true;
      else if (c === ",") {
        fields.push(field);
        field = "";
      } else field += c;
    }
    fields.push(field);
    if (fields.length === 3) rows.push({ path: fields[0]!, hash: fields[1]!, size: fields[2]! });
  }
  return rows;
}
