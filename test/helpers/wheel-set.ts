// Real wheels from PyPI for the wheel-installer fidelity test and the install bench: CPython 3.11 on x86_64 Linux
// (this machine's python3), pinned, downloaded once into .cache/wheels/installer-set (a directory of its own, so the
// find-links installs of the other tests never see them) and reused from there.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import yauzl from "yauzl";

/** The exact distributions, `name==version`, the way an offline package's requirements.txt pins them. */
export const FIDELITY_SET = [
  // pytest and its dependencies: console scripts, a pure-Python tree.
  "pytest==9.2.0", "iniconfig==2.3.1", "packaging==26.4", "pluggy==1.7.0", "pygments==2.21.0",
  // Two wheels that ship the same files (cv2/…): pip installs opencv-python last, so its files win.
  "opencv-python==5.1.0.95", "opencv-python-headless==5.1.0.95", "numpy==2.4.6",
  // A wheel of 21,488 entries, with its dependencies.
  "ansible==12.3.0", "ansible-core==2.19.14", "jinja2==3.1.6", "markupsafe==3.0.4", "pyyaml==6.0.4", "cryptography==50.0.2",
  "cffi==2.1.1", "pycparser==3.12", "resolvelib==1.2.1",
  // pip's own wheel: pip writes pip, pip3 and pip3.<minor> whatever the wheel was built on.
  "pip==25.3",
  // .data/headers/ (installed under include/site/python3.X/<name>).
  "greenlet==3.5.6",
  // .data/scripts/ with a #!python line.
  "numba==0.68.1", "llvmlite==0.50.0",
];

/** ≥ 50 wheels, ≥ 1 GiB installed: a vision and data stack, plus ansible's 21,488 files. */
export const LARGE_SET = [
  ...FIDELITY_SET.filter((pin) => !pin.startsWith("pip==") && !pin.startsWith("greenlet==")),
  "scipy==1.17.1", "pandas==3.1.1", "python-dateutil==4.0.0", "tzdata==2026.6", "scikit-learn==1.9.1", "joblib==1.6.0",
  "threadpoolctl==3.8.0", "scikit-image==0.26.0", "imageio==2.38.2", "tifffile==2026.3.3", "networkx==3.6.1", "lazy-loader==0.6",
  "pillow==13.0.0", "matplotlib==3.11.2", "contourpy==1.3.3", "cycler==0.12.1", "fonttools==4.68.0", "kiwisolver==1.5.1",
  "pyparsing==3.3.3", "pyarrow==26.0.1", "polars==2.1.0", "polars-runtime-32==2.1.0", "onnxruntime==1.32.0", "flatbuffers==25.12.19",
  "protobuf==7.36.2", "shapely==2.2.0", "requests==2.34.2", "urllib3==2.8.0", "idna==3.20", "certifi==2026.10.19.post1",
  "charset-normalizer==3.5.3", "pydantic==2.14.4", "pydantic-core==2.50.5", "annotated-types==0.8.0", "typing-extensions==4.16.0",
  "typing-inspection==0.4.5", "narwhals==2.29.0", "cloudpickle==3.1.3",
];

export const UV_PIN = "uv==0.13.9";

const normalize = (name: string): string => name.toLowerCase().replace(/[-_.]+/g, "_");

/** The cached wheel of `name==version` in `dir`, if any (file names use `_` for `-` and may differ in case). */
function findPinned(dir: string, pin: string): string | undefined {
  const [name, version] = pin.split("==") as [string, string];
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir).find((f) => {
    const [dist = "", v] = f.split("-");
    return f.endsWith(".whl") && normalize(dist) === normalize(name) && v === version;
  });
}

/**
 * The wheel files of `pins` in `<root>/.cache/wheels/installer-set`, downloading the missing ones in one `pip download`
 * (`--only-binary=:all: --no-deps`: exactly these, for this machine's python3).
 */
export function wheelSet(root: string, pins: readonly string[]): string[] {
  const dir = path.join(root, ".cache", "wheels", "installer-set");
  const missing = pins.filter((pin) => findPinned(dir, pin) === undefined);
  if (missing.length > 0) {
    mkdirSync(dir, { recursive: true });
    // pip's progress on stderr: a bench's stdout is its report.
    execFileSync("python3", ["-m", "pip", "download", "--only-binary=:all:", "--no-deps", "-d", dir, ...missing], { stdio: ["ignore", 2, 2] });
  }
  return pins.map((pin) => {
    const file = findPinned(dir, pin);
    if (file === undefined) throw new Error(`pip download ${pin} gave no wheel in ${dir} (the set is for CPython 3.11 on x86_64 Linux)`);
    return path.join(dir, file);
  });
}

/**
 * A uv binary: `<root>/.cache/uv/uv` (where the bench has always looked), else taken out of uv's PyPI wheel
 * (`uv-<version>.data/scripts/uv`), which is fetched once like the other wheels.
 */
export function cachedUv(root: string): string {
  const uv = path.join(root, ".cache", "uv", "uv");
  if (existsSync(uv)) return uv;
  const [wheel] = wheelSet(root, [UV_PIN]);
  mkdirSync(path.dirname(uv), { recursive: true });
  execFileSync("python3", ["-c", [
    "import sys, zipfile",
    "z = zipfile.ZipFile(sys.argv[1])",
    "name = next(n for n in z.namelist() if n.endswith('.data/scripts/uv'))",
    "open(sys.argv[2], 'wb').write(z.read(name))",
  ].join("\n"), wheel!, uv]);
  chmodSync(uv, 0o755);
  return uv;
}

/** The `*.dist-info/METADATA` text of a wheel file. */
export async function wheelMetadata(file: string): Promise<string> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true });
  try {
    for await (const entry of zip.eachEntry()) {
      if (!/^[^/]+\.dist-info\/METADATA$/.test(entry.fileName)) continue;
      const chunks: Buffer[] = [];
      for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    }
  } finally {
    zip.close();
  }
  throw new Error(`${file} has no METADATA`);
}
