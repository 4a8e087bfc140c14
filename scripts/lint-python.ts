// Lints the Python SDK with ruff (rules in sdk/python/pyproject.toml). ruff's wheel is downloaded once into
// .cache/wheels (the only network use) and installed into its own venv, .cache/lint-venv.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const wheels = path.join(root, ".cache", "wheels");
const venv = path.join(root, ".cache", "lint-venv");
const ruff = path.join(venv, "bin", "ruff");
const RUFF = "ruff==0.17.6";

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  execFileSync(cmd, args, { stdio: "inherit", env });
}

if (!existsSync(ruff)) {
  mkdirSync(wheels, { recursive: true });
  if (!readdirSync(wheels).some((f) => f.startsWith(`${RUFF.replace("==", "-")}-`))) {
    run("python3", ["-m", "pip", "download", "--only-binary=:all:", "--no-deps", "-d", wheels, RUFF]);
  }
  run("python3", ["-m", "venv", venv]);
  run(path.join(venv, "bin", "python"), ["-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index", "--find-links", wheels, RUFF],
    { ...process.env, PIP_CONFIG_FILE: "/dev/null" });
}
run(ruff, ["check", path.join(root, "sdk", "python")]);
