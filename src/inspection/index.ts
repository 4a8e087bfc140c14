export type { Problem } from "./problem.js";
export { checkParams, userParamsError, type ParamsCheck, type ParamsSchema } from "./params.js";
export {
  checkResult, DEFAULT_LIMITS, enforceResult, isRect, rectCounts, rectOutside, rejection, RESULT_RULES,
  type ObservedCall, type Rect, type ResultCheck, type ResultLimits, type ResultMethod, type ResultProblem, type ResultRule,
} from "./result.js";
