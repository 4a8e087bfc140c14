export { describeValue, formatPath, parseWithIssues, type SchemaIssue, type SchemaResult } from "./issues.js";
export { jsonErrorOffset, parseJson, type JsonParse } from "./json-text.js";
export { loadManifest } from "./load.js";
export { checkParamValue, compilePattern, expectation } from "./params.js";
export { manifestSchema, paramSchema, rectSchema, stepSchema, type Manifest, type ParamSpec, type ParamType, type Rect, type Step } from "./schema.js";
export { validateManifest, type ManifestIssue, type ManifestValidation } from "./validate.js";
