export { filterFreezeOutput, type FrozenRequirements } from "./freeze.js";
export { expandIncludes, IncludeError } from "./includes.js";
export { evaluateMarker, parseMarker, type MarkerEnvironment, type MarkerNode, type MarkerVariable } from "./markers.js";
export {
  formatRequirement, isLocalPath, normalizeName, parseRequirementLine,
  type DroppedLine, type Requirement, type RequirementLine,
} from "./parse.js";
export { pinRequirement } from "./pin.js";
export { logicalLines, sanitizeRequirements, unsatisfiableLines, type SanitizedRequirements } from "./sanitize.js";
export { decodeRequirementsFile } from "./text.js";
