// Package acceptance's pure judgements (src/offline-package/acceptance): integrity, requirements against the target,
// and the whole judgement with every problem in the store's order.
import { describe, expect, it } from "vitest";
import { ProcVisionError } from "../../src/errors/index.js";
import { judgePackage, type PackageFacts } from "../../src/offline-package/acceptance/acceptance.js";
import { judgeCompatibility, type CompatibilityInput } from "../../src/offline-package/acceptance/compatibility.js";
import { ACCEPTANCE_CHECKS } from "../../src/checks/report.js";
import { judgeIntegrity as judgeIntegrityFindings, type IntegrityFacts, type IntegrityPolicy } from "../../src/offline-package/acceptance/integrity.js";
import type { WheelTarget } from "../../src/wheel-tags/index.js";
import { generateKeyPair, loadPublicKey } from "../../src/signing/index.js";
import { codeOf, errorOf } from "../helpers/throws.js";

// As the store applies the judgements: the first problem is the install's error; otherwise the plan and what is said.
function checkCompatibility(input: CompatibilityInput) {
  const judged = judgeCompatibility(input);
  if (judged.problems[0] !== undefined) throw judged.problems[0].error;
  return { ...judged.plan!, warnings: judged.warnings.map((w) => w.message) };
}
function judgeIntegrity(facts: IntegrityFacts, policy: IntegrityPolicy) {
  const judged = judgeIntegrityFindings(facts, policy);
  if (judged.problems[0] !== undefined) throw judged.problems[0].error;
  return { warnings: judged.warnings.map((w) => w.message), signed: judged.signed };
}

describe("judgeIntegrity", () => {
  const keys = [loadPublicKey(generateKeyPair().publicKeyPem)];
  const facts = (f: Partial<IntegrityFacts>): IntegrityFacts => ({ checksums: { ok: true, present: true }, hasSignature: false, signatureValid: null, ...f });
  it("passes a checked unsigned package, warns when nothing could be checked", () => {
    expect(judgeIntegrity(facts({}), { trustedKeys: [], requireSignature: false })).toEqual({ warnings: [], signed: "unsigned" });
    expect(judgeIntegrity(facts({ checksums: { ok: true, present: false } }), { trustedKeys: [], requireSignature: false }).warnings[0]).toMatch(/no SHA256SUMS/);
    expect(judgeIntegrity(facts({ hasSignature: true }), { trustedKeys: [], requireSignature: false }).warnings[0]).toMatch(/not verified/);
    expect(judgeIntegrity(facts({ hasSignature: true, signatureValid: true }), { trustedKeys: keys, requireSignature: true }).signed).toBe("verified");
  });
  it.each([
    ["a mismatching entry", facts({ checksums: { ok: false, problems: [{ path: "a.py", problem: "mismatch" }] } }), false, /a\.py \(mismatch\)/],
    ["an unlisted entry", facts({ checksums: { ok: false, problems: [{ path: "b.py", problem: "missing_from_sums" }] } }), false, /b\.py \(missing from sums\)/],
    ["a bad signature", facts({ hasSignature: true, signatureValid: false }), false, /does not verify/],
    ["unsigned under require_signature", facts({}), true, /not signed/],
    ["no SHA256SUMS under require_signature", facts({ checksums: { ok: true, present: false } }), true, /no SHA256SUMS and no SIGNATURE/],
    ["a SIGNATURE that is no signature at all", facts({ hasSignature: true, signatureWellFormed: false }), false, /not a base64 ed25519 signature/],
  ])("%s → 2008", (_title, f, requireSignature, message) => {
    const err = errorOf(() => judgeIntegrity(f, { trustedKeys: keys, requireSignature }));
    expect(err.code).toBe("2008");
    expect(err.message).toMatch(message);
    expect(err.hint).toBeTruthy();
  });
  it("require_signature without trusted keys → 2008 saying so", () => {
    expect(errorOf(() => judgeIntegrity(facts({ hasSignature: true }), { trustedKeys: [], requireSignature: true })).message).toMatch(/trusted_keys is empty/);
  });
});

describe("judgeCompatibility (as the store applies it)", () => {
  const cp311: WheelTarget = { pythonVersion: "3.11", implementation: "cp", abi: "cp311", platforms: ["linux_x86_64", "manylinux_2_36_x86_64"] };
  const base = {
    requirementsText: "numpy==2.2.6\nprocvision_algorithm_sdk==0.1.0\n",
    wheelFiles: ["numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "procvision_algorithm_sdk-0.1.0-py3-none-any.whl"],
    interpreter: cp311, interpreterPath: "/opt/python3.11", envFileText: null,
    checksums: true, ourSdkWheels: new Set(["procvision_algorithm_sdk-0.1.0-py3-none-any.whl"]),
    runnerSdk: { file: "procvision_algorithm_sdk-1.0.0-py3-none-any.whl", version: "1.0.0", requiresDist: ["numpy"], requiresPython: ">=3.9" },
  };
  it("plans a wheel for every requirement", () => {
    const plan = checkCompatibility({ ...base, requirementsText: `${base.requirementsText}--index-url http://evil\n` });
    expect(Object.values(plan.wheels)).toEqual(base.wheelFiles);
    expect(plan.requirementsText).not.toMatch(/index-url/);
    expect(plan.warnings[0]).toMatch(/line 3 ignored/);
  });
  it("2004 names the requirement without a wheel", () => {
    const err = errorOf(() => checkCompatibility({ ...base, wheelFiles: [base.wheelFiles[1]!] }));
    expect(err.code).toBe("2004");
    expect(err.message).toMatch(/no wheel for numpy==2\.2\.6/);
  });
  it("2004 for a URL requirement (it would need the network)", () => {
    expect(codeOf(() => checkCompatibility({ ...base, requirementsText: "numpy @ https://example.com/numpy.whl\n" }))).toBe("2004");
  });
  it("2003 names the wheel's tags and the interpreter's", () => {
    const err = errorOf(() => checkCompatibility({ ...base, wheelFiles: ["numpy-2.2.6-cp310-cp310-manylinux_2_17_x86_64.whl", base.wheelFiles[1]!] }));
    expect(err.code).toBe("2003");
    expect(err.message).toMatch(/tags cp310-cp310-manylinux_2_17_x86_64/);
    expect(err.message).toMatch(/\/opt\/python3\.11 \(Python 3\.11 cp\/cp311 on linux_x86_64, manylinux_2_36_x86_64\) accepts cp311-cp311-linux_x86_64/);
    expect((err.details?.interpreter_tags as string[]).length).toBeGreaterThan(10);
  });
  it("2003 when .procvision_env.json targets another interpreter; pure packages ignore the platform", () => {
    const env = (o: object) => JSON.stringify(o);
    expect(errorOf(() => checkCompatibility({ ...base, envFileText: env({ python_version: "3.10", abi: "cp310" }) })).message)
      .toMatch(/python_version 3\.10 \(this interpreter: 3\.11\); abi cp310/);
    expect(errorOf(() => checkCompatibility({ ...base, envFileText: env({ wheels_platform: "win_amd64" }) })).code).toBe("2003");
    expect(() => checkCompatibility({ ...base, envFileText: env({ wheels_platform: ["manylinux2014_x86_64"] }) })).not.toThrow();
    expect(() => checkCompatibility({ ...base, wheelFiles: ["numpy-2.2.6-py3-none-any.whl", base.wheelFiles[1]!], envFileText: env({ wheels_platform: "win_amd64" }) })).not.toThrow();
    expect(codeOf(() => checkCompatibility({ ...base, envFileText: "{oops" }))).toBe("2001");
  });
  it("no requirements.txt → 2001", () => expect(codeOf(() => checkCompatibility({ ...base, requirementsText: null }))).toBe("2001"));

  // Zips of the original tools (contract §5a): no SHA256SUMS, a stale env file, the original SDK pinned and shipped.
  const original = {
    ...base, checksums: false, ourSdkWheels: new Set<string>(),
    requirementsText: "numpy==2.2.6\nprocvision_algorithm_sdk==0.0.7\npillow==10.4.0\n",
    wheelFiles: [base.wheelFiles[0]!, "procvision_algorithm_sdk-0.0.7-py3-none-any.whl", "pillow-10.4.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"],
  };
  it("replaces the original SDK by the runner's: the pin rewritten, its wheel swapped, a warning naming both", () => {
    const plan = checkCompatibility(original);
    expect(plan.requirementsText).toBe("numpy==2.2.6\nprocvision_algorithm_sdk==1.0.0\npillow==10.4.0\n");
    expect(plan.usesRunnerSdk).toBe(true);
    expect(plan.wheelFiles).toContain("procvision_algorithm_sdk-1.0.0-py3-none-any.whl");
    expect(plan.wheelFiles).not.toContain("procvision_algorithm_sdk-0.0.7-py3-none-any.whl");
    expect(plan.warnings.join(" ")).toMatch(/pins procvision_algorithm_sdk==0\.0\.7 and ships procvision_algorithm_sdk-0\.0\.7-py3-none-any\.whl.*replaced by the runner's SDK 1\.0\.0/);
  });
  it("adds the SDK to requirements that do not name it: the package's own wheel of ours, else the runner's", () => {
    const plan = checkCompatibility({ ...base, requirementsText: "numpy==2.2.6\n" });
    expect(plan.requirementsText).toBe("numpy==2.2.6\nprocvision_algorithm_sdk==0.1.0\n");
    expect(plan.usesRunnerSdk).toBe(false);
    expect(plan.warnings.join(" ")).toMatch(/does not name procvision_algorithm_sdk: its wheel in the package/);
    const bare = checkCompatibility({ ...base, requirementsText: "numpy==2.2.6\n", wheelFiles: [base.wheelFiles[0]!] });
    expect(bare.requirementsText).toBe("numpy==2.2.6\nprocvision_algorithm_sdk==1.0.0\n");
    expect(bare.usesRunnerSdk).toBe(true);
    expect(bare.warnings.join(" ")).toMatch(/the runner's SDK 1\.0\.0 is installed too/);
  });
  it("a pinned SDK without its wheel gets the runner's, said as such", () => {
    const plan = checkCompatibility({ ...base, wheelFiles: [base.wheelFiles[0]!] });
    expect(plan.requirementsText).toBe("numpy==2.2.6\nprocvision_algorithm_sdk==1.0.0\n");
    expect(plan.warnings.join(" ")).toMatch(/pins procvision_algorithm_sdk==0\.1\.0 but ships no wheel of it: the runner's SDK 1\.0\.0 is installed instead/);
  });
  it("keeps a pinned SDK wheel of ours without a word", () => {
    const plan = checkCompatibility(base);
    expect(plan.usesRunnerSdk).toBe(false);
    expect(plan.warnings).toEqual([]);
  });
  it("the runner's SDK must install: 2004 naming the dependency the package lacks, 2003 for a Python it does not support", () => {
    const noNumpy = errorOf(() => checkCompatibility({ ...original, requirementsText: "procvision_algorithm_sdk==0.3.2\n", wheelFiles: ["procvision_algorithm_sdk-0.3.2-py3-none-any.whl"] }));
    expect(noNumpy.code).toBe("2004");
    expect(noNumpy.message).toMatch(/must be replaced by the runner's SDK 1\.0\.0, which needs numpy/);
    const py38: WheelTarget = { ...cp311, pythonVersion: "3.8", abi: "cp38" };
    const old = errorOf(() => checkCompatibility({ ...original, interpreter: py38, requirementsText: "procvision_algorithm_sdk==0.3.2\n", wheelFiles: ["procvision_algorithm_sdk-0.3.2-py3-none-any.whl"] }));
    expect(old.code).toBe("2003");
    expect(old.message).toMatch(/requires Python >=3\.9; this runner's \/opt\/python3\.11 is Python 3\.8/);
  });
  it("a stale or unreadable env file of a zip without SHA256SUMS is a warning: the wheels' tags decide", () => {
    const stale = checkCompatibility({ ...original, envFileText: JSON.stringify({ python_version: "3.13", abi: "cp313", wheels_platform: "win_amd64" }) });
    expect(stale.warnings.join(" ")).toMatch(/\.procvision_env\.json says python_version 3\.13 .*abi cp313 .*wheels_platform win_amd64 .*judged by the wheels' tags/);
    expect(checkCompatibility({ ...original, envFileText: "{oops" }).warnings.join(" ")).toMatch(/\.procvision_env\.json in the package is invalid .*ignored/);
    // The wheels still have to fit: a win_amd64 numpy is 2003 whatever the env file says.
    expect(codeOf(() => checkCompatibility({ ...original, wheelFiles: ["numpy-2.2.6-cp311-cp311-win_amd64.whl", ...original.wheelFiles.slice(1)] }))).toBe("2003");
  });
  it("collects every problem, each with the validate check it fails, in the order the store meets them", () => {
    const judged = judgeCompatibility({
      ...base, requirementsText: "numpy==2.2.6\nprocvision_algorithm_sdk==0.1.0\nevil @ https://evil.example/e.whl\nscipy==1.0\n-e git+https://x/y.git\n",
      wheelFiles: ["numpy-2.2.6-cp310-cp310-manylinux_2_17_x86_64.whl", base.wheelFiles[1]!],
    });
    expect(judged.problems.map((p) => [p.check, p.error.code])).toEqual([
      ["zip_requirements", "2004"], ["requirements_pinned", "2004"], ["wheels_cover_requirements", "2004"], ["wheels_match_target", "2003"],
    ]);
    expect(judged.problems[2]!.error.message).toMatch(/no wheel for scipy==1\.0/);
  });
  it("an unpinned requirement refuses a package of ours (2001) and is only said for another tool's zip", () => {
    const loose = { ...base, requirementsText: "numpy>=2\nprocvision_algorithm_sdk==0.1.0\n" };
    expect(judgeCompatibility(loose).problems.map((p) => [p.check, p.error.code, p.error.message]))
      .toEqual([["requirements_pinned", "2001", expect.stringMatching(/not pinned to one version: numpy>=2/)]]);
    const theirs = judgeCompatibility({ ...loose, checksums: false });
    expect(theirs.problems).toEqual([]);
    expect(theirs.warnings).toContainEqual({ check: "requirements_pinned", message: expect.stringMatching(/not pinned to one version: numpy>=2/) });
  });
});

describe("judgePackage", () => {
  const cp311: WheelTarget = { pythonVersion: "3.11", implementation: "cp", abi: "cp311", platforms: ["linux_x86_64", "manylinux_2_36_x86_64"] };
  const sdk = "procvision_algorithm_sdk-1.0.0-py3-none-any.whl";
  const context = {
    target: { interpreter: cp311, path: "/opt/python3.11" }, integrity: { trustedKeys: [], requireSignature: false },
    runnerSdk: { file: sdk, path: `/dist/${sdk}`, metadata: "", version: "1.0.0", requiresDist: [] },
  };
  const manifest = JSON.stringify({ name: "a", version: "1.0", entry_point: "a.main:A", supported_pids: ["p"] });
  const facts: PackageFacts = {
    open: { ok: true, entries: 6, rootPrefix: "" }, manifest: { size: manifest.length, text: { text: manifest } },
    requirements: { text: "procvision_algorithm_sdk==1.0.0\n" }, envFile: null, wheelFiles: [sdk],
    wheelReads: { problems: [], unreadable: [] }, ourSdkWheels: new Set([sdk]),
    integrity: { checksums: { ok: true, present: true }, hasSignature: false, signatureValid: null }, hasChecksums: true,
  };
  it("accepts a sound package with the plan the store installs and every check judged", () => {
    const judged = judgePackage(facts, context);
    expect(judged).toMatchObject({ problems: [], warnings: [], manifest: { name: "a" }, plan: { wheelFiles: [sdk], usesRunnerSdk: false } });
    expect(new Set(judged.judged.keys())).toEqual(new Set(ACCEPTANCE_CHECKS));
  });
  it("collects every problem in the order the store meets them: manifest, integrity, wheels, requirements", () => {
    const judged = judgePackage({
      ...facts, manifest: { size: 2, text: { text: "[]" } }, requirements: { text: "procvision_algorithm_sdk==1.0.0\nscipy==1.0\n" },
      wheelReads: { problems: ["x.whl is named x but its METADATA says y"], unreadable: [] },
      integrity: { ...facts.integrity!, checksums: { ok: false, problems: [{ path: "a.py", problem: "mismatch" }] } },
    }, context);
    expect(judged.problems.map((p) => [p.check, p.error.code])).toEqual([
      ["zip_manifest", "2002"], ["checksums_valid", "2008"], ["zip_wheels", "2004"], ["wheels_cover_requirements", "2004"],
    ]);
  });
  it("a zip that does not open is judged no further; without a target the target checks are left out", () => {
    const error = new ProcVisionError("2001", "\"../x\": '..' segment", { hint: "h", details: { rule: "dotdot" } });
    const refused = judgePackage({ open: { ok: false, error } }, context);
    expect(refused.problems).toEqual([{ check: "zip_paths_safe", error }]);
    expect([...refused.judged.keys()]).toEqual(["zip_open", "zip_paths_safe"]);
    const { target: _target, ...untargeted } = context;
    expect([...judgePackage(facts, untargeted).judged.keys()]).not.toContain("wheels_match_target");
  });
});
