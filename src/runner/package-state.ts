/**
 * A package's states as the contract names them (§7: `installing → installed | invalid`, `installed → running ⇄ stopped`,
 * `running ⇄ executing`); `removing` is an uninstall in progress. What `list` reports and filters by.
 */
export const PACKAGE_STATES = ["installing", "installed", "invalid", "running", "executing", "stopped", "removing"] as const;
export type PackageInfoState = (typeof PACKAGE_STATES)[number];
