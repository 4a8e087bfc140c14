// The console into dist/console: app.ts compiled for the browser by esbuild (tsc only type-checks it, against the
// API's response types in src/api/responses.ts, which are types only there and leave nothing in the page's script),
// next to its static files.
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "dist", "console");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(root, "src", "console", "app.ts")], outfile: path.join(out, "app.js"),
  bundle: true, format: "esm", platform: "browser", target: "es2022", logLevel: "warning",
});
for (const file of ["index.html", "style.css"]) copyFileSync(path.join(root, "src", "console", file), path.join(out, file));
