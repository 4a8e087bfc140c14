import { z } from "zod";
import { describeValue, parseWithIssues, type SchemaResult } from "../manifest/issues.js";

const platform = z.string().regex(/^[A-Za-z0-9_]+$/, {
  error: (issue) => `expected a wheel platform tag like win_amd64 or manylinux_2_17_x86_64, got ${describeValue(issue.input)}`,
});

/**
 * `.procvision_env.json` (contract §1). Every field is optional: each one falls back separately (flag > file > the
 * local interpreter). Unknown keys are errors, because a misspelt key would silently target the wrong platform.
 */
export const targetEnvSchema = z.strictObject({
  python_version: z.string().regex(/^\d+\.\d+(?:\.\d+)?$/, { error: (issue) => `expected a Python version like "3.10", got ${describeValue(issue.input)}` }).optional(),
  implementation: z.string().regex(/^[a-z]{2}$/, { error: (issue) => `expected an implementation tag like "cp", got ${describeValue(issue.input)}` }).optional(),
  abi: z.string().regex(/^[a-z0-9_]+$/, { error: (issue) => `expected an ABI tag like "cp310", got ${describeValue(issue.input)}` }).optional(),
  // null (as the original init writes on Linux) means not set.
  wheels_platform: z.union([platform, z.array(platform).min(1)], {
    error: (issue) => `expected a platform tag or a non-empty list of them, got ${describeValue(issue.input)}`,
  }).nullable().transform((v) => v ?? undefined).optional(),
  auto_freeze: z.boolean().optional(),
  index_url: z.string().min(1).nullable().optional(),
  extra_index_urls: z.array(z.string().min(1)).optional(),
  find_links: z.array(z.string().min(1)).optional(),
  /** Where `package --embed-python` finds the runtime when no flag says (the original tool read it here too). */
  python_runtime: z.string().min(1).nullable().optional(),
});

export type TargetEnvFile = z.infer<typeof targetEnvSchema>;
export type TargetEnvField = keyof TargetEnvFile;

/** Checks a parsed `.procvision_env.json`; issue paths are its keys (`wheels_platform[1]`). */
export function parseTargetEnv(value: unknown): SchemaResult<TargetEnvFile> {
  return parseWithIssues(targetEnvSchema, value, ".procvision_env.json");
}
