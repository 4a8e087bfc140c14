export { parseWheelFilename, type WheelFilename, type WheelFilenameParse } from "./filename.js";
export { byPreference, markerEnvironment, matchRequirementsToWheels, rankWheels, versionMatches, type RankedWheel, type RequirementMatch } from "./match.js";
export { expandManylinux, expandPlatforms } from "./platforms.js";
export { INTERPRETER_PROBE, interpreterTarget } from "./probe.js";
export { pythonVersionParts, supportedTags, versionNodot, wheelSupported, type WheelTarget } from "./supported.js";
