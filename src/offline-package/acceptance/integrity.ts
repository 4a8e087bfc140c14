import type { KeyObject } from "node:crypto";
import { ErrorCode, ProcVisionError, isProcVisionError } from "../../errors/index.js";
import { verifyChecksums, type ChecksumProblem } from "../checksums.js";
import { SHA256SUMS, SIGNATURE } from "../layout.js";
import type { SafeZip } from "../../zip/index.js";
import { verify } from "../../signing/index.js";
import type { Findings } from "./findings.js";

export interface IntegrityPolicy {
  trustedKeys: readonly KeyObject[];
  requireSignature: boolean;
}

/** What was found in the zip; `signatureValid` is null when there is no signature or no key to check it with. */
export interface IntegrityFacts {
  /** `error`: SHA256SUMS malformed (2008), or an entry unreadable while hashing (damaged data, 2001). */
  checksums: { ok: true; present: boolean } | { ok: false; problems: ChecksumProblem[] } | { ok: false; error: ProcVisionError };
  hasSignature: boolean;
  /** SIGNATURE has the form of a base64 ed25519 signature (undefined: not looked at, taken as well-formed). */
  signatureWellFormed?: boolean;
  signatureValid: boolean | null;
}

export interface IntegrityOutcome extends Findings {
  signed: "verified" | "unverified" | "unsigned";
}

const REBUILD = "copy the package again from the build machine, or rebuild it with procvision-cli package";
const SIGNATURE_FORM = /^[A-Za-z0-9+/]{86}==$/;

/** The policy of contract §7 Install step 2 over the facts: 2008 (or 2001 for damaged data) problems, warnings. Pure. */
export function judgeIntegrity(facts: IntegrityFacts, policy: IntegrityPolicy): IntegrityOutcome {
  const signed = facts.signatureValid === true ? "verified" as const : facts.hasSignature ? "unverified" as const : "unsigned" as const;
  const refuse = (message: string, hint: string, details?: Record<string, unknown>): IntegrityOutcome => ({
    problems: [{ check: "checksums_valid", error: new ProcVisionError(ErrorCode.integrity_failed, message, { hint, ...(details ? { details } : {}) }) }],
    warnings: [], signed,
  });
  if (!facts.checksums.ok) {
    if ("error" in facts.checksums) return { problems: [{ check: "checksums_valid", error: facts.checksums.error }], warnings: [], signed };
    const { problems } = facts.checksums;
    const shown = problems.slice(0, 5).map((p) => `${p.path} (${p.problem.replaceAll("_", " ")})`).join(", ");
    return refuse(`${problems.length} entr${problems.length === 1 ? "y does" : "ies do"} not match ${SHA256SUMS}: ${shown}${problems.length > 5 ? ", …" : ""}`,
      `the package was altered or damaged in transit: ${REBUILD}`, { problems });
  }
  const keysHint = "sign packages with procvision-cli package --sign <key> and list its public key in trusted_keys";
  if (policy.requireSignature) {
    if (!facts.checksums.present) return refuse(`the package has no ${SHA256SUMS} and no ${SIGNATURE}, and this runner requires signed packages`, keysHint);
    if (!facts.hasSignature) return refuse(`the package is not signed (no ${SIGNATURE}) and this runner requires signed packages`, keysHint);
    if (policy.trustedKeys.length === 0) {
      return refuse("require_signature is set but trusted_keys is empty: no signature can be accepted", "add the signer's public key (PEM text or file) to trusted_keys in runner_config.json");
    }
  }
  if (facts.hasSignature && facts.signatureWellFormed === false) {
    return refuse(`${SIGNATURE} is not a base64 ed25519 signature: the package was altered or damaged`, REBUILD);
  }
  if (facts.hasSignature && facts.signatureValid === false) {
    return refuse(`${SIGNATURE} does not verify with any trusted key: the package was altered after signing or signed by an untrusted key`,
      `${REBUILD}; if the signer is new, add their public key to trusted_keys`);
  }
  const warnings: string[] = [];
  if (!facts.checksums.present) warnings.push(`the package has no ${SHA256SUMS}: its files could not be verified (built by another tool?)`);
  else if (facts.hasSignature && facts.signatureValid === null) warnings.push(`${SIGNATURE} present but not verified: no trusted_keys configured`);
  else if (!facts.hasSignature && policy.trustedKeys.length > 0) warnings.push("the package is not signed");
  return { problems: [], warnings: warnings.map((message) => ({ check: "checksums_valid", message })), signed };
}

/** Hashes every entry against SHA256SUMS and checks SIGNATURE with the keys: the facts judgeIntegrity judges. */
export async function integrityFacts(zip: SafeZip, keys: readonly KeyObject[]): Promise<IntegrityFacts & { sha256sums: string | null }> {
  const hasSignature = zip.entries.has(SIGNATURE);
  let result;
  try {
    result = await verifyChecksums(zip);
  } catch (err) {
    if (!isProcVisionError(err)) throw err;
    return { checksums: { ok: false, error: err }, hasSignature, signatureValid: null, sha256sums: null };
  }
  if (!result.ok) return { checksums: { ok: false, problems: result.problems }, hasSignature, signatureValid: null, sha256sums: null };
  const signature = hasSignature ? (await zip.readText(SIGNATURE, 4096)).trim() : "";
  const signatureWellFormed = SIGNATURE_FORM.test(signature);
  const signatureValid = hasSignature && signatureWellFormed && keys.length > 0 && result.sha256sums !== null
    ? verify(Buffer.from(result.sha256sums), signature, keys) : null;
  return {
    checksums: { ok: true, present: result.sha256sums !== null }, hasSignature, signatureValid, sha256sums: result.sha256sums,
    ...(hasSignature ? { signatureWellFormed } : {}),
  };
}
