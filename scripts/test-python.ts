// Prepares the Python the tests use: a venv in .cache/test-venv with numpy, Pillow, pytest, packaging and the freshly built
// SDK wheel. Wheels are downloaded once into .cache/wheels (the only network use), then installed with --no-index.
// `--pytest` runs the SDK's pytest suite with that venv.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cache = path.join(root, ".cache");
const wheels = path.join(cache, "wheels");
const venv = path.join(cache, "test-venv");
const python = path.join(venv, process.platform === "win32" ? "Scripts/python.exe" : "bin/python");
// numpy is pinned to the version the example and `init` projects pin, so packaging tests find its wheel here;
// packaging is test/wheel-tags.test.ts's reference for the tags an interpreter accepts.
const requirements = ["numpy==2.2.6", "pillow", "pytest", "packaging"];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  execFileSync(cmd, args, { stdio: "inherit", env });
}

if (process.argv.includes("--pytest")) {
  run(python, ["-m", "pytest", "-q", path.join(root, "sdk", "python", "tests")], { ...process.env, PYTHONPATH: "" });
  process.exit(0);
}

mkdirSync(wheels, { recursive: true });
const have = (spec: string) => readdirSync(wheels).some((f) => f.toLowerCase().startsWith(`${spec.replace("==", "-")}-`));
const missing = requirements.filter((r) => !have(r));
if (missing.length > 0) {
  run("python3", ["-m", "pip", "download", "--only-binary=:all:", "-d", wheels, ...requirements]);
}
// The packaging tests also build a Windows / CPython 3.10 package: the real numpy wheel for that target.
const crossTarget = ["--platform", "win_amd64", "--python-version", "3.10", "--implementation", "cp", "--abi", "cp310"];
if (!readdirSync(wheels).some((f) => f.startsWith("numpy-2.2.6-cp310-cp310-win_amd64"))) {
  run("python3", ["-m", "pip", "download", "--only-binary=:all:", "--no-deps", ...crossTarget, "-d", wheels, "numpy==2.2.6"]);
}
// The embedded-runtime tests package for a copied CPython 3.12: its numpy wheel.
const runtimeTarget = ["--platform", "manylinux2014_x86_64", "--python-version", "3.12", "--implementation", "cp", "--abi", "cp312"];
if (!readdirSync(wheels).some((f) => f.startsWith("numpy-2.2.6-cp312-cp312-manylinux"))) {
  run("python3", ["-m", "pip", "download", "--only-binary=:all:", "--no-deps", ...runtimeTarget, "-d", wheels, "numpy==2.2.6"]);
}
if (!existsSync(python)) run("python3", ["-m", "venv", venv]);
const hermetic = { ...process.env, PIP_CONFIG_FILE: "/dev/null", PYTHONPATH: "" };
run(python, ["-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index", "--find-links", wheels, ...requirements], hermetic);
const sdkDir = path.join(root, "dist", "sdk");
const sdkWheel = readdirSync(sdkDir).find((f) => f.endsWith(".whl"));
if (!sdkWheel) throw new Error("no SDK wheel in dist/sdk: run npm run build first");
run(python, ["-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index", "--no-deps", "--force-reinstall",
  path.join(sdkDir, sdkWheel)], hermetic);
console.log(`test python ready: ${path.relative(root, python)}`);
