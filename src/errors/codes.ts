/** Error codes of the contract (§6). Strings, because they travel in JSON and Python returns them as strings. */
export const ErrorCode = {
  invalid_pid: "1001",
  image_load_failed: "1002",
  model_not_found: "1003",
  gpu_oom: "1004",
  timeout: "1005",
  invalid_params: "1006",
  coordinate_invalid: "1007",
  unknown_error: "9999",
  invalid_zip: "2001",
  manifest_missing: "2002",
  incompatible_python: "2003",
  wheels_missing: "2004",
  install_failed: "2005",
  activation_conflict: "2006",
  unsafe_uninstall: "2007",
  integrity_failed: "2008",
  worker_crashed: "3001",
  protocol_error: "3002",
  circuit_open: "3003",
  no_active_package: "3004",
  busy: "3005",
  not_found: "3006",
  unauthorized: "3007",
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName];

const names = new Map<string, ErrorCodeName>(
  (Object.entries(ErrorCode) as [ErrorCodeName, ErrorCodeValue][]).map(([name, code]) => [code, name]),
);

/** `"3001"` → `"worker_crashed"`; unknown codes (an algorithm may invent its own) → undefined. */
export function errorCodeName(code: string): ErrorCodeName | undefined {
  return names.get(code);
}
