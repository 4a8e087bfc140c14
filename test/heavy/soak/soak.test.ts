import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runSoak, soakMarkdown } from "./soak.js";

// CI-sized: 2 minutes (SOAK_MINUTES overrides); docs/RELIABILITY.md records a 30-minute run of `npm run soak`.
const minutes = Number(process.env.SOAK_MINUTES ?? "2");

describe("soak", () => {
  it(`keeps inspecting through worker kills and switches for ${minutes} min, and leaves nothing behind`, async () => {
    const work = mkdtempSync(path.join(tmpdir(), "pv-soak-"));
    try {
      const report = await runSoak({ minutes, work, killEveryMs: 4000, switchEveryMs: Math.min(60_000, (minutes * 60_000) / 3), log: () => undefined });
      console.log(soakMarkdown(report).join("\n"));
      expect(report.calls).toBeGreaterThan(100 * minutes);
      expect(report.kills).toBeGreaterThan(0);
      expect(report.switches).toBeGreaterThan(0);
      // A call running in a worker that is SIGKILLed fails with 3001; nothing else may fail.
      expect(Object.keys(report.failures).filter((code) => code !== "3001")).toEqual([]);
      expect(report.failures["3001"] ?? 0).toBeLessThanOrEqual(report.kills * 2);
      expect(report.end).toEqual({ open_fds_growth: expect.any(Number) as number, worker_processes: 0, shm_segments: 0 });
      expect(report.end.open_fds_growth).toBeLessThanOrEqual(4);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, (minutes * 60 + 120) * 1000);
});
