import { validRange } from "@renovatebot/pep440";
import { parseMarker } from "./markers.js";

export interface Requirement {
  /** As written, e.g. `Pillow`. */
  name: string;
  /** PEP 503 form, e.g. `pillow`: the form to compare names in. */
  normalizedName: string;
  extras: string[];
  /** Version clauses without spaces, e.g. `>=1.2,<2`; empty for any version or a URL requirement. */
  specifier: string;
  /** The direct reference of `name @ url`. */
  url?: string;
  /** Set only when the specifier is exactly one `==X` (no wildcard) or `===X`. */
  pinnedVersion?: string;
  marker?: string;
  /** The line it came from, as written. */
  raw: string;
}

/** A requirements line that was not kept, and why. */
export interface DroppedLine {
  line: string;
  lineNumber: number;
  reason: string;
}

export type RequirementLine =
  | { ok: true; requirement: Requirement }
  | { ok: false; kind: "empty" | "option" | "invalid"; reason: string };

const NAME = "[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?";
const EXTRA = new RegExp(`^${NAME}$`);
const REQUIREMENT = new RegExp(`^(${NAME})\\s*(?:\\[([^\\]]*)\\])?\\s*(.*)$`, "s");
const CLAUSE = /^(===|==|!=|<=|>=|~=|<|>)\s*([A-Za-z0-9_.*+!-]+)$/;
const URL_REQUIREMENT = /^@\s*(\S+)(?:\s+;(.*))?$/s;
// pip's rule: `#` starts a comment at the start of a line or after whitespace, so `url#sha256=` is not one.
const COMMENT = /(^|\s)#.*$/s;
const HASH_FRAGMENT = /#(?:md5|sha1|sha224|sha256|sha384|sha512)=[0-9A-Fa-f]+/g;
const URL = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
const LOCAL_PATH = /^(?:[./~\\]|[A-Za-z]:[\\/]|file:)/i;
const ARCHIVE = /\.(?:whl|zip|tar\.gz|tgz|tar\.bz2|tar\.xz|tar)$/i;

/** PEP 503: lowercase, runs of `-`, `_`, `.` become one `-` (`Foo__Bar.baz` → `foo-bar-baz`). */
export function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, "-").toLowerCase();
}

/** A local file or directory as pip accepts it on a requirements line (`./pkg`, `C:\pkg`, `file:...`). */
export function isLocalPath(text: string): boolean {
  return LOCAL_PATH.test(text);
}

const OPTION_REASONS: [RegExp, string][] = [
  [/^(-r|--requirement)$/, "procvision-cli package reads nested requirements files in; a package's own requirements.txt lists them"],
  [/^(-c|--constraint)$/, "constraint files are not followed: pin what they constrain in this file"],
  [/^(-e|--editable)$/, "an editable install cannot be packed as a wheel: build a wheel of it and pin name==version"],
  [/^--hash$/, "hashes are not kept: the package adds the SDK wheel, which has none, and SHA256SUMS covers every wheel"],
  [/^(-i|--index-url|--extra-index-url|-f|--find-links|--no-index|--trusted-host)$/,
    "index options belong in .procvision_env.json (index_url, extra_index_urls, find_links) or on the command line"],
];

function optionReason(line: string): string {
  const option = /^(--[A-Za-z][A-Za-z0-9-]*|-[A-Za-z])/.exec(line)?.[1] ?? line;
  const why = OPTION_REASONS.find(([pattern]) => pattern.test(option))?.[1] ?? "package downloads binary wheels with its own pip options";
  return `pip option ${option} dropped: ${why}`;
}

function invalid(reason: string): RequirementLine {
  return { ok: false, kind: "invalid", reason };
}

function parseSpecifier(text: string): { specifier: string; pinnedVersion?: string } | string {
  const body = text.trim().replace(/^\((.*)\)$/s, "$1").trim();
  if (body === "") return { specifier: "" };
  const clauses: [string, string][] = [];
  for (const clause of body.split(",")) {
    const m = CLAUSE.exec(clause.trim());
    if (!m) return `invalid version specifier ${JSON.stringify(clause.trim())}`;
    clauses.push([m[1] as string, m[2] as string]);
  }
  const specifier = clauses.map(([op, version]) => op + version).join(",");
  if (!validRange(specifier)) return `invalid version specifier ${JSON.stringify(specifier)} (not PEP 440)`;
  const [only] = clauses;
  const pinned = clauses.length === 1 && only !== undefined && (only[0] === "===" || (only[0] === "==" && !only[1].includes("*")));
  return pinned ? { specifier, pinnedVersion: only[1] } : { specifier };
}

/**
 * Parses one line of a requirements file (continuations already joined). Comments, `--hash` and other
 * per-requirement options and `#sha256=` URL fragments are stripped: one hashed line would put pip in hash-checking
 * mode, which rejects the SDK wheel the package adds; SHA256SUMS covers the wheels instead, and build options do
 * not apply to wheels. Lines that are not requirements say why.
 */
export function parseRequirementLine(line: string): RequirementLine {
  const text = line.replace(COMMENT, "").trim();
  if (text === "") return { ok: false, kind: "empty", reason: "blank line or comment" };
  if (text.startsWith("-")) return { ok: false, kind: "option", reason: optionReason(text) };
  // pip splits a line into the requirement and its options at the first token that starts with "-".
  const tokens = text.split(/\s+/);
  const firstOption = tokens.findIndex((t) => t.startsWith("-"));
  const spec = (firstOption === -1 ? tokens : tokens.slice(0, firstOption)).join(" ").replace(HASH_FRAGMENT, "");

  const head = spec.split(/[\s;@[]/)[0] ?? "";
  if (URL.test(head) || isLocalPath(head) || ARCHIVE.test(head)) {
    return invalid(`${JSON.stringify(head)} is a path or URL, not a requirement: pin the distribution as name==version`);
  }
  const m = REQUIREMENT.exec(spec);
  if (!m) return invalid(`expected a requirement like "numpy==1.26.4", got ${JSON.stringify(spec)}`);
  const [, name = "", extrasText, rest = ""] = m;

  const extras = extrasText === undefined ? [] : extrasText.split(",").map((e) => e.trim()).filter((e) => e !== "");
  const badExtra = extras.find((e) => !EXTRA.test(e));
  if (badExtra !== undefined) return invalid(`invalid extra ${JSON.stringify(badExtra)} in ${JSON.stringify(spec)}`);

  let version: { specifier: string; pinnedVersion?: string; url?: string };
  let marker: string | undefined;
  if (rest.startsWith("@")) {
    const direct = URL_REQUIREMENT.exec(rest);
    if (!direct) return invalid(`expected "name @ url" with a URL, got ${JSON.stringify(spec)}`);
    version = { specifier: "", url: direct[1] as string };
    marker = direct[2];
  } else {
    const semicolon = rest.indexOf(";");
    const parsed = parseSpecifier(semicolon === -1 ? rest : rest.slice(0, semicolon));
    if (typeof parsed === "string") return invalid(parsed);
    version = parsed;
    marker = semicolon === -1 ? undefined : rest.slice(semicolon + 1);
  }

  const requirement: Requirement = { name, normalizedName: normalizeName(name), extras, ...version, raw: line };
  if (marker !== undefined) {
    const trimmed = marker.trim();
    try {
      parseMarker(trimmed);
    } catch (err) {
      return invalid(`invalid environment marker ${JSON.stringify(trimmed)}: ${(err as Error).message}`);
    }
    requirement.marker = trimmed;
  }
  return { ok: true, requirement };
}

/** The canonical line: `name[extra]==1.0 ; marker` (or `name @ url ; marker`). */
export function formatRequirement(requirement: Requirement): string {
  const extras = requirement.extras.length > 0 ? `[${requirement.extras.join(",")}]` : "";
  const version = requirement.url !== undefined ? ` @ ${requirement.url}` : requirement.specifier;
  const marker = requirement.marker !== undefined ? ` ; ${requirement.marker}` : "";
  return `${requirement.name}${extras}${version}${marker}`;
}
