// Bundles the two command-line tools into dist/bin: a command loads a handful of files instead of some 300 small
// ES modules (zod alone is 99), which is most of a short command's start-up (docs/BENCHMARKS.md, the author's loop).
// Lazy `import()`s stay lazy (code splitting); dependencies with native code or a large tree stay external.
import { chmodSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outdir = path.join(root, "dist", "bin");
// Small pure-JS packages on the commands' start-up path; everything else is imported from node_modules as usual.
const BUNDLED = new Set(["commander", "zod", "pngjs", "ignore", "@renovatebot/pep440"]);
const deps = Object.keys((JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies);

// zod's classic API re-exports all of its ~40 locales as `z.locales` (half of zod's code, ~30 ms of every start-up);
// its messages use the English locale, imported on its own, and nothing here reads `z.locales`.
const noZodLocales: Plugin = {
  name: "no-zod-locales",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}zod${path.sep}`) ? { path: "zod-locales", namespace: "pv-empty" } : undefined);
    b.onLoad({ filter: /.*/, namespace: "pv-empty" }, () => ({ contents: "export {};", loader: "js" }));
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { "procvision-cli": path.join(root, "dist", "cli", "main.js"), "procvision-runner": path.join(root, "dist", "runner-cli", "main.js") },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: deps.filter((d) => !BUNDLED.has(d)).flatMap((d) => [d, `${d}/*`]),
  // Bundled CommonJS packages (pngjs) call require() for Node's own modules.
  banner: { js: "import { createRequire as __pvRequire } from 'node:module'; const require = __pvRequire(import.meta.url);" },
  chunkNames: "chunks/[name]-[hash]",
  plugins: [noZodLocales],
  logLevel: "warning",
});
for (const bin of ["procvision-cli.js", "procvision-runner.js"]) chmodSync(path.join(outdir, bin), 0o755);
