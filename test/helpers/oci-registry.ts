// A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution 2.8) serving a temp dir on 127.0.0.1,
// anonymous or behind htpasswd (Basic). .ci/run installs the package on a fresh machine.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import bcrypt from "bcryptjs";

export const REGISTRY_BINARY = "/usr/bin/docker-registry";

export interface TestRegistry {
  /** `127.0.0.1:<port>`, as it goes into oci:// references. */
  host: string;
  /** Where the registry stores blobs (to tamper with them). */
  storage: string;
  /** The server's process id while it runs (benchmarks read its CPU time). */
  readonly pid: number | undefined;
  /** The file holding a blob's bytes in the filesystem driver's layout. */
  blobFile: (digest: string) => string;
  /** Stops the server, keeping its storage and port (an outage); `resume` starts it again. */
  pause: () => Promise<void>;
  resume: () => Promise<void>;
  stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Token auth (the distribution spec's Bearer flow): the token service's URL and the certificate its tokens chain to. */
export interface TokenAuth {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
}

/**
 * Starts a registry and resolves once it logs that it listens. `users` turns on Basic auth (htpasswd, bcrypt),
 * `token` the Bearer token flow.
 */
export async function startRegistry(options: { users?: Record<string, string>; token?: TokenAuth } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(tmpdir(), "pv-registry-"));
  const storage = path.join(dir, "data");
  const port = await freePort();
  const auth = options.users
    ? ["auth:", "  htpasswd:", "    realm: procvision-test", `    path: ${path.join(dir, "htpasswd")}`]
    : options.token
      ? ["auth:", "  token:", `    realm: ${options.token.realm}`, `    service: ${options.token.service}`, `    issuer: ${options.token.issuer}`, `    rootcertbundle: ${options.token.certFile}`]
      : [];
  if (options.users) {
    writeFileSync(path.join(dir, "htpasswd"), Object.entries(options.users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 4)}\n`).join(""));
  }
  writeFileSync(path.join(dir, "config.yml"), [
    "version: 0.1", "log:", "  level: info", "  accesslog:", "    disabled: true",
    "storage:", "  filesystem:", `    rootdirectory: ${storage}`, "  delete:", "    enabled: true",
    "http:", `  addr: 127.0.0.1:${port}`, ...auth, "",
  ].join("\n"));
  let child: ChildProcess;
  let exited: Promise<void>;
  const launch = async (): Promise<void> => {
    child = spawn(REGISTRY_BINARY, ["serve", path.join(dir, "config.yml")], { stdio: ["ignore", "ignore", "pipe"] });
    exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
    let log = "";
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on("data", (d: Buffer) => {
        log += d.toString();
        if (log.includes("listening on")) resolve();
      });
      child.once("error", reject);
      child.once("close", (code) => reject(new Error(`docker-registry exited ${code}: ${log}`)));
    });
  };
  const halt = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  await launch();
  return {
    host: `127.0.0.1:${port}`,
    storage,
    get pid() {
      return child.pid;
    },
    blobFile: (digest) => {
      const hex = digest.replace(/^sha256:/, "");
      return path.join(storage, "docker", "registry", "v2", "blobs", "sha256", hex.slice(0, 2), hex, "data");
    },
    pause: halt,
    resume: launch,
    stop: async () => {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Names of the files under the store's staging/ (a pull that failed must leave nothing there). */
export function stagingLeftovers(root: string): string[] {
  try {
    return readdirSync(path.join(root, "staging"));
  } catch {
    return [];
  }
}
