export { registryClient, type RegistrySettings } from "./access.js";
export { dockerConfigCredentials, type RegistryCredentials } from "./credentials.js";
export { PACKAGE_ARTIFACT_TYPE, PACKAGE_LAYER_TYPE } from "./package-artifact.js";
export { publishPackage, type Published } from "./publish.js";
export { pullPackage, type PulledPackage } from "./pull.js";
export { formatOciReference, isOciReference, parseOciReference, type OciReference } from "./reference.js";
