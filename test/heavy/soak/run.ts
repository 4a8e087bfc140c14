// `npm run soak -- --minutes N [--out report.json]`: the soak of test/heavy/soak/soak.ts with its report printed.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runSoak, soakMarkdown } from "./soak.js";

const arg = (name: string) => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
};
const minutes = Number(arg("--minutes") ?? "2");
if (!(minutes > 0)) throw new Error("--minutes must be a positive number");
const work = mkdtempSync(path.join(tmpdir(), "pv-soak-"));
try {
  const report = await runSoak({ minutes, work });
  const out = arg("--out");
  if (out) writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(soakMarkdown(report).join("\n"));
} finally {
  rmSync(work, { recursive: true, force: true });
}
