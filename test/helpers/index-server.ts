import { createHash } from "node:crypto";
import { createReadStream, readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

const normalize = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");

/**
 * A PEP 503 "simple" index on 127.0.0.1 serving the wheels found in `dirs`, so packaging tests run pip download
 * against a real HTTP index with no network beyond loopback.
 */
export async function serveIndex(dirs: readonly string[]): Promise<{ url: string; close: () => Promise<void> }> {
  const files = new Map<string, string>();
  for (const dir of dirs) for (const f of readdirSync(dir)) if (f.endsWith(".whl")) files.set(f, path.join(dir, f));
  const projects = new Map<string, string[]>();
  for (const file of files.keys()) {
    const project = normalize(file.split("-")[0]!);
    projects.set(project, [...(projects.get(project) ?? []), file]);
  }
  const sha = new Map<string, string>();
  const digest = (file: string) => {
    let value = sha.get(file);
    if (!value) {
      value = createHash("sha256").update(readFileSync(files.get(file)!)).digest("hex");
      sha.set(file, value);
    }
    return value;
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const parts = url.pathname.split("/").filter(Boolean);
    const html = (body: string) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!DOCTYPE html><html><body>${body}</body></html>`);
    };
    if (parts[0] === "simple" && parts.length === 1) {
      html([...projects.keys()].map((p) => `<a href="/simple/${p}/">${p}</a>`).join("\n"));
    } else if (parts[0] === "simple" && parts.length === 2) {
      const list = projects.get(normalize(parts[1]!));
      if (!list) {
        res.writeHead(404).end("not found");
        return;
      }
      html(list.map((f) => `<a href="/files/${f}#sha256=${digest(f)}">${f}</a>`).join("\n"));
    } else if (parts[0] === "files" && parts.length === 2 && files.has(parts[1]!)) {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      createReadStream(files.get(parts[1]!)!).pipe(res);
    } else {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/simple/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
