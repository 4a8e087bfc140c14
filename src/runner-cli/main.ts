#!/usr/bin/env node
// procvision-runner. Start-up runs without V8's optimizing compiler: importing the API, store and supervisor runs a
// lot of code exactly once, and what TurboFan compiled of it stayed resident (~10 MB of an idle runner's ~70 MB,
// see docs/BENCHMARKS.md). `serve` switches it back on once it listens, so the inspection path is optimized as usual.
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--no-opt");
setFlagsFromString("--no-sparkplug");
await import("./commands.js");
