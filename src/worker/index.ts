export { Worker, CallNotStarted, RUNNER_VERSION, type WorkerOptions, type CallResult, type WorkerExit, type WorkerState } from "./worker.js";
export { buildWorkerEnv, type WorkerEnvOptions, type WorkerLaunch } from "./env.js";
export { StderrTail, parseStderrLine, type StderrLine } from "./stderr-tail.js";
