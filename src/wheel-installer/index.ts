// The wheel installer: one interface (`installWheels(choice, source, destination)`), three implementations behind it
// (builtin, pip, uv), and the wheel-format pieces the builtin one is made of.
export { builtinInstaller } from "./builtin.js";
export { chooseInstaller, installerFor, installWheels, type InstallerSetting } from "./choose.js";
export type { InstallDestination, InstallerChoice, InstallerKind, InstallSource, WheelInstaller } from "./installer.js";
export { parseCoreMetadata, parseEntryPoints, parseRecord, parseWheelInfo, formatRecord } from "./metadata.js";
export { installOrder } from "./order.js";
export { metadataIdentity, readWheelMetadata, readWheelsMetadata, type WheelMetadataRead } from "./zip-metadata.js";
export { pipInstaller } from "./pip.js";
export { resolveWheels, type ResolvedWheel } from "./resolve.js";
export { probeScheme, SCHEME_PROBE, type InstallScheme } from "./scheme.js";
export { INSTALLER_NAME, unpackWheels, DEFAULT_TUNING, type UnpackTuning, type WheelSource } from "./unpack.js";
export { findUv, uvInstaller } from "./uv.js";
