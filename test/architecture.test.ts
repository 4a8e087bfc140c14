// The floor plan: the folders of src/ are rooms, and no two rooms import each other, even through others (static,
// type-only and dynamic imports alike). A cycle means a concern lives in the wrong room: move it, do not suppress this.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./helpers/python.js";

const SRC = path.join(repoRoot, "src");

/** A file's room: its top folder under src/, or the file itself for the few at src/'s root. */
const room = (file: string): string => (file.includes("/") ? file.split("/")[0]! : file.replace(/\.ts$/, ""));

/** room → room it imports → the imports that make the edge. */
function roomGraph(): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  const files = (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts")).map((f) => f.split(path.sep).join("/"));
  for (const file of files) {
    const text = readFileSync(path.join(SRC, file), "utf8");
    for (const match of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), match[1]!)).replace(/\.js$/, ".ts");
      const [a, b] = [room(file), room(target)];
      if (a === b) continue;
      const edges = graph.get(a) ?? new Map<string, string[]>();
      edges.set(b, [...(edges.get(b) ?? []), `${file} → ${target}`]);
      graph.set(a, edges);
    }
  }
  return graph;
}

/** Every group of rooms that reach each other (Tarjan's strongly connected components of size > 1). */
function cycles(graph: Map<string, Map<string, string[]>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        group.push(w);
      } while (w !== v);
      if (group.length > 1) found.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe("the rooms of src/", () => {
  it("import each other in one direction only: no cycle between folders", () => {
    const graph = roomGraph();
    const explained = cycles(graph).map((group) => [
      group.join(" ⇄ "),
      ...group.flatMap((a) => [...(graph.get(a) ?? new Map<string, string[]>())].filter(([b]) => group.includes(b)).map(([b, why]) => `  ${a} → ${b}: ${why.join(", ")}`)),
    ].join("\n"));
    expect(explained).toEqual([]);
  });

  it("docs/ARCHITECTURE.md names every room, and every src/ path it names exists", () => {
    const doc = readFileSync(path.join(repoRoot, "docs", "ARCHITECTURE.md"), "utf8");
    const rooms = readdirSync(SRC, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(rooms.filter((r) => !doc.includes(`\`src/${r}`))).toEqual([]);
    const named = [...doc.matchAll(/`(src\/[\w./{},-]+)`/g)].flatMap(([, p]) => {
      const braces = /^(.*)\{(.*)\}(.*)$/.exec(p!);
      return braces ? braces[2]!.split(",").map((x) => `${braces[1]}${x}${braces[3]}`) : [p!];
    });
    expect(named.filter((p) => !existsSync(path.join(repoRoot, p.replace(/\/$/, ""))))).toEqual([]);
  });

  it("the check finds a cycle when there is one", () => {
    const graph = new Map([["a", new Map([["b", ["a/x.ts → b/y.ts"]]])], ["b", new Map([["c", ["b/y.ts → c/z.ts"]]])], ["c", new Map([["a", ["c/z.ts → a/x.ts"]]])]]);
    expect(cycles(graph)).toEqual([["a", "b", "c"]]);
  });
});
