import { describe, expect, it } from "vitest";
import { parseTargetEnv, pipDownloadArgs, resolveTarget, shippedIndexSettings, withoutSecrets, type TargetEnvFile } from "../src/target-env/index.js";
import { expandManylinux, type WheelTarget } from "../src/wheel-tags/index.js";

const local: WheelTarget = { pythonVersion: "3.11", implementation: "cp", abi: "cp311", platforms: ["linux_x86_64", "manylinux_2_36_x86_64"] };
const contractEnv = {
  python_version: "3.10", implementation: "cp", abi: "cp310", wheels_platform: ["win_amd64"], auto_freeze: false,
  index_url: null, extra_index_urls: [], find_links: [],
};

describe("parseTargetEnv", () => {
  it("accepts the contract's example and a partial file", () => {
    expect(parseTargetEnv(contractEnv)).toEqual({ ok: true, data: contractEnv });
    expect(parseTargetEnv({ wheels_platform: "manylinux_2_17_x86_64" })).toEqual({ ok: true, data: { wheels_platform: "manylinux_2_17_x86_64" } });
    expect(parseTargetEnv({ python_version: "3.10.4", index_url: "https://mirror/simple" }).ok).toBe(true);
    // What the original init writes on Linux: wheels_platform null means not set.
    const original = { python_version: "3.11", implementation: "cp", abi: "cp311", wheels_platform: null, auto_freeze: true };
    expect(parseTargetEnv(original)).toEqual({ ok: true, data: { python_version: "3.11", implementation: "cp", abi: "cp311", auto_freeze: true } });
  });

  it.each<[string, unknown, string, string]>([
    ["an unknown key", { wheel_platform: "win_amd64" }, ".procvision_env.json", 'unknown key "wheel_platform"'],
    ["two unknown keys", { python: "3.10", abi_tag: "cp310" }, ".procvision_env.json", 'unknown keys "python", "abi_tag"'],
    ["not an object", [], ".procvision_env.json", "expected an object, got an array"],
    ["a numeric version", { python_version: 3.1 }, "python_version", "expected a string, got 3.1"],
    ["a bad version", { python_version: "3" }, "python_version", 'expected a Python version like "3.10", got "3"'],
    ["a long implementation", { implementation: "cpython" }, "implementation", 'expected an implementation tag like "cp", got "cpython"'],
    ["a bad abi", { abi: "CP310" }, "abi", 'expected an ABI tag like "cp310", got "CP310"'],
    ["a sysconfig-style platform", { wheels_platform: "win-amd64" }, "wheels_platform", 'expected a wheel platform tag like win_amd64 or manylinux_2_17_x86_64, got "win-amd64"'],
    ["a bad platform in a list", { wheels_platform: ["win_amd64", "linux x86_64"] }, "wheels_platform[1]", 'expected a wheel platform tag like win_amd64 or manylinux_2_17_x86_64, got "linux x86_64"'],
    ["an empty platform list", { wheels_platform: [] }, "wheels_platform", "expected a non-empty array"],
    ["a numeric platform", { wheels_platform: 5 }, "wheels_platform", "expected a platform tag or a non-empty list of them, got 5"],
    ["a string auto_freeze", { auto_freeze: "yes" }, "auto_freeze", 'expected true or false, got "yes"'],
    ["an empty index_url", { index_url: "" }, "index_url", "expected a non-empty string"],
    ["extra_index_urls as a string", { extra_index_urls: "https://x" }, "extra_index_urls", 'expected an array, got "https://x"'],
    ["a non-string find_links entry", { find_links: ["./w", 3] }, "find_links[1]", "expected a string, got 3"],
  ])("rejects %s", (_, value, where, message) => {
    expect(parseTargetEnv(value)).toEqual({ ok: false, errors: [{ path: where, message }] });
  });
});

describe("resolveTarget", () => {
  it("uses the local interpreter when nothing else is given", () => {
    expect(resolveTarget({}, undefined, local)).toEqual({
      target: {
        pythonVersion: "3.11", implementation: "cp", abi: "cp311",
        platforms: ["linux_x86_64", ...expandManylinux("manylinux_2_36_x86_64")],
        wheelsPlatform: ["linux_x86_64", "manylinux_2_36_x86_64"],
        autoFreeze: true, indexUrl: null, extraIndexUrls: [], findLinks: [],
      },
      sources: {
        python_version: "local", implementation: "local", abi: "local", wheels_platform: "local",
        auto_freeze: "default", index_url: "default", extra_index_urls: "default", find_links: "default",
      },
    });
  });

  it("takes the env file over the local interpreter", () => {
    const { target, sources } = resolveTarget({}, { ...contractEnv, auto_freeze: true, find_links: ["./vendor"] }, local);
    expect(target).toEqual({
      pythonVersion: "3.10", implementation: "cp", abi: "cp310", platforms: ["win_amd64"], wheelsPlatform: ["win_amd64"],
      autoFreeze: true, indexUrl: null, extraIndexUrls: [], findLinks: ["./vendor"],
    });
    expect(Object.values(sources).every((s) => s === "env-file")).toBe(true);
  });

  it("takes flags over the env file, field by field", () => {
    const flags: TargetEnvFile = { wheels_platform: ["manylinux2014_x86_64"], index_url: "https://mirror/simple", extra_index_urls: ["https://extra/simple"] };
    const { target, sources } = resolveTarget(flags, contractEnv, local);
    expect(target).toMatchObject({
      pythonVersion: "3.10", abi: "cp310", wheelsPlatform: ["manylinux2014_x86_64"], platforms: expandManylinux("manylinux_2_17_x86_64"),
      indexUrl: "https://mirror/simple", extraIndexUrls: ["https://extra/simple"],
    });
    expect(sources).toMatchObject({ python_version: "env-file", abi: "env-file", wheels_platform: "flag", index_url: "flag", extra_index_urls: "flag", find_links: "env-file" });
  });

  it("keeps an explicit null index_url from the env file", () => {
    const { target, sources } = resolveTarget({}, { index_url: null }, local);
    expect([target.indexUrl, sources.index_url]).toEqual([null, "env-file"]);
  });

  it.each<[string, TargetEnvFile, TargetEnvFile | undefined, string, string]>([
    ["a flag version over the local ABI", { python_version: "3.10" }, undefined, "cp310", "derived"],
    ["an env-file version over the local ABI", {}, { python_version: "3.12.1" }, "cp312", "derived"],
    ["a flag version over the env file's ABI", { python_version: "3.12" }, { python_version: "3.10", abi: "cp310" }, "cp312", "derived"],
    ["an explicit ABI as strong as the version", { python_version: "3.12", abi: "cp312d" }, undefined, "cp312d", "flag"],
    ["a stronger ABI than the version", { abi: "cp310" }, { python_version: "3.12" }, "cp310", "flag"],
    ["an env-file ABI with its version", {}, { python_version: "3.9", abi: "cp39" }, "cp39", "env-file"],
  ])("derives or keeps the ABI: %s", (_, flags, envFile, abi, source) => {
    const { target, sources } = resolveTarget(flags, envFile, local);
    expect([target.abi, sources.abi]).toEqual([abi, source]);
  });

  it("cannot derive another implementation's ABI and keeps the chosen one, as pip does", () => {
    const { target, sources } = resolveTarget({ implementation: "pp" }, undefined, local);
    expect([target.implementation, target.abi, sources.abi]).toEqual(["pp", "cp311", "local"]);
  });

  it("accepts a single platform string and de-duplicates overlapping families", () => {
    const { target } = resolveTarget({ wheels_platform: ["manylinux_2_28_x86_64", "manylinux2014_x86_64", "win_amd64"] }, undefined, local);
    expect(target.platforms).toEqual([...expandManylinux("manylinux_2_28_x86_64"), "win_amd64"]);
    expect(resolveTarget({}, { wheels_platform: "win32" }, local).target.platforms).toEqual(["win32"]);
  });
});

describe("pipDownloadArgs", () => {
  it("passes every expanded platform and the interpreter, binary wheels only", () => {
    const { target } = resolveTarget({}, contractEnv, local);
    expect(pipDownloadArgs(target)).toEqual([
      "--only-binary=:all:", "--platform", "win_amd64", "--python-version", "3.10", "--implementation", "cp", "--abi", "cp310",
    ]);
  });

  it("repeats --platform for a manylinux family and adds the index options", () => {
    const { target } = resolveTarget(
      { wheels_platform: "manylinux_2_17_aarch64", index_url: "https://mirror/simple", extra_index_urls: ["https://a", "https://b"], find_links: ["/opt/sdk"] },
      undefined,
      local,
    );
    expect(pipDownloadArgs(target)).toEqual([
      "--only-binary=:all:",
      "--platform", "manylinux_2_17_aarch64", "--platform", "manylinux2014_aarch64",
      "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
      "--index-url", "https://mirror/simple",
      "--extra-index-url", "https://a", "--extra-index-url", "https://b",
      "--find-links", "/opt/sdk",
    ]);
  });
});

describe("shippedIndexSettings: what of the index settings a package carries to stations", () => {
  it("strips credentials from URLs, redacts secret query values, drops local paths", () => {
    expect(shippedIndexSettings({
      indexUrl: "https://build:s3cr3t@pypi.corp.example/simple",
      extraIndexUrls: ["https://tok3n@extra.example/simple/?token=abc&channel=stable", "https://mirror.example/simple?api_key=k3y"],
      findLinks: ["/home/dev/wheels", "C:\\Users\\dev\\wheels", "file:///srv/wheels", "https://dl.example/wheels/?sig=xyz"],
    })).toEqual({
      index_url: "https://pypi.corp.example/simple",
      extra_index_urls: ["https://extra.example/simple/?token=REDACTED&channel=stable", "https://mirror.example/simple?api_key=REDACTED"],
      find_links: ["https://dl.example/wheels/?sig=REDACTED"],
    });
    expect(shippedIndexSettings({ indexUrl: null, extraIndexUrls: [], findLinks: [] })).toEqual({ index_url: null, extra_index_urls: [], find_links: [] });
  });

  it("withoutSecrets (for messages on the author's machine) keeps local paths", () => {
    expect(["https://u:p@h.example/simple?auth=x", "/home/dev/wheels", "C:\\wheels"].map(withoutSecrets))
      .toEqual(["https://h.example/simple?auth=REDACTED", "/home/dev/wheels", "C:\\wheels"]);
  });
});
