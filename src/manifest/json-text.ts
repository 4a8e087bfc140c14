export type JsonParse = { ok: true; value: unknown } | { ok: false; message: string; line: number; column: number };

const SPACE = " \t\n\r";
const LITERALS = ["true", "false", "null"] as const;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Offset of the first syntax error in `text`, or -1 when it is valid JSON. V8 names the position for most errors
 * but not all ("Unexpected token '}', ... is not valid JSON"), and a user fixing a file needs a line and column.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && SPACE.includes(text[i] as string)) i++;
  };
  const literal = (): boolean => {
    const start = i;
    for (const word of LITERALS) {
      let j = 0;
      while (j < word.length && text[start + j] === word[j]) j++;
      if (j === word.length) {
        i = start + j;
        return true;
      }
      i = Math.max(i, start + j); // `tru}` fails at the `}`
    }
    return false;
  };
  const number = (): boolean => {
    NUMBER.lastIndex = i;
    const match = NUMBER.exec(text);
    if (match) i += match[0].length;
    return match !== null;
  };
  const string = (): boolean => {
    i++;
    while (i < text.length) {
      const c = text[i] as string;
      if (c === '"') {
        i++;
        return true;
      }
      if (c < " ") return false;
      if (c === "\\") {
        const escape = text[i + 1] ?? "";
        const length = escape === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6)) ? 6 : escape !== "" && '"\\/bfnrt'.includes(escape) ? 2 : 0;
        if (length === 0) return false;
        i += length;
      } else i++;
    }
    return false;
  };
  const container = (close: "}" | "]"): boolean => {
    i++;
    skipSpace();
    if (text[i] === close) {
      i++;
      return true;
    }
    for (;;) {
      if (close === "}") {
        skipSpace();
        if (text[i] !== '"' || !string()) return false;
        skipSpace();
        if (text[i] !== ":") return false;
        i++;
      }
      if (!value()) return false;
      skipSpace();
      if (text[i] === ",") i++;
      else if (text[i] === close) {
        i++;
        return true;
      } else return false;
    }
  };
  const value = (): boolean => {
    skipSpace();
    const c = text[i];
    if (c === "{") return container("}");
    if (c === "[") return container("]");
    if (c === '"') return string();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return number();
    return literal();
  };
  if (!value()) return i;
  skipSpace();
  return i < text.length ? i : -1;
}

/** JSON.parse with the error placed at a 1-based line and column. A leading BOM (Windows editors) is ignored. */
export function parseJson(text: string): JsonParse {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (err) {
    let offset: number;
    try {
      offset = Math.max(0, jsonErrorOffset(body));
    } catch {
      // The locator recurses per nesting level: a hostile "[[[[…" overflows the stack. Place such errors at the start.
      offset = 0;
    }
    const before = body.slice(0, offset);
    // V8 appends the position (which we give as line and column) or a copy of the text (which can be the whole file).
    const message = (err as Error).message
      .replace(/ at position \d+.*$/s, "")
      .replace(/, ".*" is not valid JSON$/s, "")
      .replace(/[\u0000-\u001f]/g, (c) => JSON.stringify(c).slice(1, -1));
    return { ok: false, message, line: before.split("\n").length, column: offset - before.lastIndexOf("\n") };
  }
}
