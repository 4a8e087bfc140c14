import { explain, satisfies, validRange } from "@renovatebot/pep440";

// PEP 508 environment marker variables.
const VARIABLES = [
  "python_version", "python_full_version", "os_name", "sys_platform", "platform_release", "platform_system",
  "platform_version", "platform_machine", "platform_python_implementation", "implementation_name",
  "implementation_version", "extra",
] as const;

export type MarkerVariable = (typeof VARIABLES)[number];

/**
 * The marker variables known for a target. A variable left undefined is unknown, and a comparison on it is assumed
 * to hold: a requirement is then expected to have a wheel rather than silently skipped.
 */
export type MarkerEnvironment = Partial<Record<MarkerVariable, string>>;

type Operand = { variable: MarkerVariable } | { literal: string };

export type MarkerNode =
  | { op: "and" | "or"; left: MarkerNode; right: MarkerNode }
  | { op: "compare"; left: Operand; comparator: string; right: Operand };

function isVariable(word: string): word is MarkerVariable {
  return (VARIABLES as readonly string[]).includes(word);
}

const TOKEN = /\s*(?:(\(|\))|'([^']*)'|"([^"]*)"|(===|==|!=|<=|>=|~=|<|>)|([A-Za-z_][A-Za-z0-9_]*))/y;

type Token = { kind: "paren" | "string" | "comparator" | "word"; text: string };

function tokenize(marker: string): Token[] {
  const text = marker.trim();
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) throw new Error(`unexpected ${JSON.stringify(text.slice(at).trim().slice(0, 20))}`);
    if (m[1] !== undefined) tokens.push({ kind: "paren", text: m[1] });
    else if (m[2] !== undefined || m[3] !== undefined) tokens.push({ kind: "string", text: m[2] ?? m[3] ?? "" });
    else if (m[4] !== undefined) tokens.push({ kind: "comparator", text: m[4] });
    else tokens.push({ kind: "word", text: m[5] ?? "" });
  }
  return tokens;
}

/** Parses a PEP 508 environment marker (`python_version < "3.11" and sys_platform == "win32"`); throws on bad syntax. */
export function parseMarker(text: string): MarkerNode {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const isWord = (word: string): boolean => peek()?.kind === "word" && peek()?.text === word;
  const describe = (): string => (peek() === undefined ? "end of marker" : JSON.stringify(peek()?.text));

  const operand = (): Operand => {
    const token = tokens[pos++];
    if (token?.kind === "string") return { literal: token.text };
    if (token?.kind === "word" && isVariable(token.text)) return { variable: token.text };
    throw new Error(`expected a marker variable or a quoted string, got ${token === undefined ? "end of marker" : JSON.stringify(token.text)}`);
  };
  const comparator = (): string => {
    const token = peek();
    if (token?.kind === "comparator" || isWord("in")) {
      pos++;
      return token?.text ?? "";
    }
    if (isWord("not") && tokens[pos + 1]?.text === "in") {
      pos += 2;
      return "not in";
    }
    throw new Error(`expected a comparison operator, got ${describe()}`);
  };
  const atom = (): MarkerNode => {
    if (peek()?.text === "(" && peek()?.kind === "paren") {
      pos++;
      const inner = or();
      if (peek()?.text !== ")") throw new Error(`expected ")", got ${describe()}`);
      pos++;
      return inner;
    }
    const left = operand();
    const op = comparator();
    return { op: "compare", left, comparator: op, right: operand() };
  };
  const chain = (word: "and" | "or", next: () => MarkerNode) => (): MarkerNode => {
    let node = next();
    while (isWord(word)) {
      pos++;
      node = { op: word, left: node, right: next() };
    }
    return node;
  };
  const and = chain("and", atom);
  const or = chain("or", and);

  const node = or();
  if (pos < tokens.length) throw new Error(`expected "and", "or" or the end of the marker, got ${describe()}`);
  return node;
}

function compare(left: string, comparator: string, right: string): boolean {
  if (comparator === "in") return right.includes(left);
  if (comparator === "not in") return !right.includes(left);
  // Versions compare as PEP 440 versions ("3.9" < "3.10"), as packaging does; everything else as strings.
  const range = `${comparator}${right}`;
  if (comparator !== "===" && explain(left) !== null && validRange(range)) return satisfies(left, range);
  if (comparator === "==" || comparator === "===") return left === right;
  if (comparator === "!=") return left !== right;
  return true; // ordering strings is undefined in PEP 508: assume it holds
}

function evaluate(node: MarkerNode, env: MarkerEnvironment): boolean {
  if (node.op !== "compare") {
    return node.op === "and" ? evaluate(node.left, env) && evaluate(node.right, env) : evaluate(node.left, env) || evaluate(node.right, env);
  }
  const value = (o: Operand): string | undefined => ("literal" in o ? o.literal : env[o.variable]);
  const [left, right] = [value(node.left), value(node.right)];
  return left === undefined || right === undefined ? true : compare(left, node.comparator, right);
}

/** Whether a requirement's marker holds for the target; variables the target does not define count as holding. */
export function evaluateMarker(marker: string | MarkerNode, env: MarkerEnvironment): boolean {
  return evaluate(typeof marker === "string" ? parseMarker(marker) : marker, env);
}
