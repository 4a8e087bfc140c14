import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadRunnerConfig, parseRunnerConfig } from "../../src/runner/config.js";
import { loadTrustedKeys } from "../../src/runner/open.js";
import { ProcVisionError } from "../../src/errors/index.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-config-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProcVisionError);
    return (err as ProcVisionError).message;
  }
  throw new Error("expected a ProcVisionError");
}

describe("runner_config.json", () => {
  it("fills the contract's defaults", () => {
    expect(parseRunnerConfig({})).toMatchObject({
      pre_execute_timeout_ms: 10_000, execute_timeout_ms: 30_000, startup_timeout_ms: 60_000, heartbeat_interval_ms: 5_000, heartbeat_grace_ms: 2_000,
      kill_grace_ms: 3_000, max_retries: 2, breaker_max_crashes: 5, breaker_window_ms: 60_000, instances: 1, keep_versions: 3,
      max_defects: 20, image_encoding: "raw", installer: "auto", trusted_keys: [], require_signature: false, watch_zips: false,
    });
  });

  it("rejects unknown keys and bad values, naming each key", () => {
    expect(messageOf(() => parseRunnerConfig({ execute_timout_ms: 1 }))).toMatch(/unknown key "execute_timout_ms"/);
    const many = messageOf(() => parseRunnerConfig({ instances: 0, image_encoding: "webp", require_signature: "yes", trusted_keys: "k", startup_timeout_ms: 0 }));
    for (const key of ["instances", "image_encoding", "require_signature", "trusted_keys", "startup_timeout_ms"]) expect(many).toContain(key);
    expect(messageOf(() => parseRunnerConfig([]))).toMatch(/runner_config\.json/);
    // installer takes the contract's values only (auto|uv|pip): the builtin installer is what auto picks, not a setting.
    expect(messageOf(() => parseRunnerConfig({ installer: "builtin" }))).toMatch(/installer/);
    expect(parseRunnerConfig({ installer: "uv" }).installer).toBe("uv");
  });

  it("refuses durations a timer cannot wait (over 2^31 - 1 ms fired after 1 ms: every call timed out at once)", () => {
    for (const key of ["execute_timeout_ms", "startup_timeout_ms", "session_ttl_ms", "heartbeat_interval_ms", "kill_grace_ms", "breaker_window_ms"]) {
      expect(messageOf(() => parseRunnerConfig({ [key]: 3_000_000_000 }))).toMatch(new RegExp(`${key}.*at most 2147483647 ms`));
    }
    expect(messageOf(() => parseRunnerConfig({ fleet: { poll_ms: 3_000_000_000 } }))).toMatch(/poll_ms/);
    expect(parseRunnerConfig({ execute_timeout_ms: 2_147_483_647 }).execute_timeout_ms).toBe(2_147_483_647);
  });

  it("names a trusted key it cannot load by its index", () => {
    expect(messageOf(() => loadTrustedKeys(["/nowhere/station.pub"]))).toMatch(/^runner config trusted_keys\[0\]: .*\/nowhere\/station\.pub/);
  });

  it("reads a file, and says so when it is not JSON", async () => {
    const good = path.join(work, "good.json");
    writeFileSync(good, JSON.stringify({ instances: 2 }));
    expect((await loadRunnerConfig(good)).instances).toBe(2);
    const bad = path.join(work, "bad.json");
    writeFileSync(bad, "{ instances: 2 ");
    await expect(loadRunnerConfig(bad)).rejects.toThrow(/cannot read runner config .*bad\.json/);
  });
});
