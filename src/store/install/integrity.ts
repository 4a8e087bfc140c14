import type { KeyObject } from "node:crypto";
import { ErrorCode, ProcVisionError } from "../../errors/index.js";
import { SHA256SUMS, SIGNATURE } from "../../offline-zip/index.js";
import { verifyChecksums, type ChecksumProblem, type SafeZip } from "../../safe-zip/index.js";
import { verify } from "../../signing/index.js";

export interface IntegrityPolicy {
  trustedKeys: readonly KeyObject[];
  requireSignature: boolean;
}

/** What was found in the zip; `signatureValid` is null when there is no signature or no key to check it with. */
export interface IntegrityFacts {
  checksums: { ok: true; present: boolean } | { ok: false; problems: ChecksumProblem[] };
  hasSignature: boolean;
  signatureValid: boolean | null;
}

export interface IntegrityOutcome {
  warnings: string[];
  signed: "verified" | "unverified" | "unsigned";
}

const REBUILD = "copy the package again from the build machine, or rebuild it with procvision-cli package";

function integrityError(message: string, hint: string, details?: Record<string, unknown>): ProcVisionError {
  return new ProcVisionError(ErrorCode.integrity_failed, message, { hint, ...(details ? { details } : {}) });
}

/** The policy of contract §7 Install step 2 over the facts: 2008 or warnings. Pure. */
export function judgeIntegrity(facts: IntegrityFacts, policy: IntegrityPolicy): IntegrityOutcome {
  if (!facts.checksums.ok) {
    const { problems } = facts.checksums;
    const shown = problems.slice(0, 5).map((p) => `${p.path} (${p.problem.replaceAll("_", " ")})`).join(", ");
    throw integrityError(`${problems.length} entr${problems.length === 1 ? "y does" : "ies do"} not match ${SHA256SUMS}: ${shown}${problems.length > 5 ? ", …" : ""}`,
      `the package was altered or damaged in transit: ${REBUILD}`, { problems });
  }
  const keysHint = "sign packages with procvision-cli package --sign <key> and list its public key in trusted_keys";
  if (policy.requireSignature) {
    if (!facts.checksums.present) throw integrityError(`the package has no ${SHA256SUMS} and no ${SIGNATURE}, and this runner requires signed packages`, keysHint);
    if (!facts.hasSignature) throw integrityError(`the package is not signed (no ${SIGNATURE}) and this runner requires signed packages`, keysHint);
    if (policy.trustedKeys.length === 0) {
      throw integrityError("require_signature is set but trusted_keys is empty: no signature can be accepted", "add the signer's public key (PEM text or file) to trusted_keys in runner_config.json");
    }
  }
  if (facts.hasSignature && facts.signatureValid === false) {
    throw integrityError(`${SIGNATURE} does not verify with any trusted key: the package was altered after signing or signed by an untrusted key`,
      `${REBUILD}; if the signer is new, add their public key to trusted_keys`);
  }
  const warnings: string[] = [];
  if (!facts.checksums.present) warnings.push(`the package has no ${SHA256SUMS}: its files could not be verified (built by another tool?)`);
  else if (facts.hasSignature && facts.signatureValid === null) warnings.push(`${SIGNATURE} present but not verified: no trusted_keys configured`);
  else if (!facts.hasSignature && policy.trustedKeys.length > 0) warnings.push("the package is not signed");
  const signed = facts.signatureValid === true ? "verified" : facts.hasSignature ? "unverified" : "unsigned";
  return { warnings, signed };
}

/** Install step 2b: hashes every entry against SHA256SUMS and checks SIGNATURE; throws 2008. */
export async function checkIntegrity(zip: SafeZip, policy: IntegrityPolicy): Promise<IntegrityOutcome> {
  const result = await verifyChecksums(zip);
  const hasSignature = zip.entries.has(SIGNATURE);
  let signatureValid: boolean | null = null;
  if (result.ok && hasSignature && policy.trustedKeys.length > 0) {
    signatureValid = result.sha256sums !== null && verify(Buffer.from(result.sha256sums), await zip.readText(SIGNATURE, 4096), policy.trustedKeys);
  }
  const checksums = result.ok ? { ok: true as const, present: result.sha256sums !== null } : { ok: false as const, problems: result.problems };
  return judgeIntegrity({ checksums, hasSignature, signatureValid }, policy);
}
