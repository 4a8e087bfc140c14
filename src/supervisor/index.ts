export { Supervisor, type SupervisorOptions, type SupervisorPoolStatus } from "./supervisor.js";
export { VersionPool, defaultTuning, type PoolCall, type PoolCallOutcome, type PoolStatus, type PoolTuning, type WorkerStatus } from "./pool.js";
export {
  SessionManager, memorySessionStore, DEFAULT_MAX_STATE_BYTES,
  type SessionEndReason, type SessionManagerOptions, type SessionRecord, type SessionStore,
} from "./sessions.js";
export { describeEvent, type ExitCause, type PoolState, type SupervisorEvent, type SupervisorEventMap, type SupervisorEventType } from "./events.js";
export { LATENCY_BUCKETS_MS, type CallCounter, type LatencyHistogram, type MetricsSnapshot, type PoolMetrics } from "./metrics.js";
export { backoffDelay, nextFailureCount, DEFAULT_BACKOFF, type BackoffPolicy } from "./backoff.js";
export { allowsCalls, closedBreaker, onCrash, onProbeResult, onProbeStart, probeDelay, type Breaker, type BreakerPolicy, type CircuitState } from "./breaker.js";
export { chooseDispatch, type JobView, type SlotView } from "./dispatch.js";
export { classifyFailure, shouldRetry, type AttemptEnd } from "./retry.js";
export { prepareImage, writeImage, type FrameEncoding, type PreparedImage } from "./image.js";
export {
  jsonLineLogger, packageKey, silentLogger,
  type CallResponse, type InspectImage, type InspectionRecord, type InspectMethod, type InspectRequest, type InspectResponse,
  type LogLevel, type Logger, type PackageRef, type PackageSpec, type RawPixels, type StepMethod,
} from "./types.js";
