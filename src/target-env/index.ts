export { pipDownloadArgs, resolveTarget, type ResolvedTarget, type TargetResolution, type TargetSource } from "./resolve.js";
export { parseTargetEnv, targetEnvSchema, type TargetEnvField, type TargetEnvFile } from "./schema.js";
export { REDACTED, redactIndexUrl, shippedIndexSettings, withoutSecrets, type IndexSettings } from "./shipped.js";
