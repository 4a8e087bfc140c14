export { ErrorCode, errorCodeName, type ErrorCodeName, type ErrorCodeValue } from "./codes.js";
export { ProcVisionError, isProcVisionError } from "./procvision-error.js";
