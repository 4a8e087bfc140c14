import { parseRequirementLine, type Requirement } from "./parse.js";

/**
 * `requirements` with `name` pinned to `version`: the first entry of that name (compared normalized) is replaced in
 * place and any others removed, or the pin is appended. Used to pin the SDK wheel the CLI bundles.
 */
export function pinRequirement(requirements: readonly Requirement[], name: string, version: string): Requirement[] {
  const parsed = parseRequirementLine(`${name}==${version}`);
  if (!parsed.ok) throw new Error(`cannot pin ${name}==${version}: ${parsed.reason}`);
  const pin = parsed.requirement;
  const at = requirements.findIndex((r) => r.normalizedName === pin.normalizedName);
  const others = requirements.filter((r) => r.normalizedName !== pin.normalizedName);
  // Nothing before the first match is removed, so `at` is still its position among the others.
  return at === -1 ? [...others, pin] : [...others.slice(0, at), pin, ...others.slice(at)];
}
