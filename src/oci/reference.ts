import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";

/** `oci://host[:port]/repository[:tag][@sha256:…]`, the way packages and desired states are named (contract §9). */
export interface OciReference {
  /** `host[:port]` as written. */
  registry: string;
  /** `lines/line-a`, lower case path components. */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>`; when given, it is what is fetched and checked, whatever the tag says. */
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const REGISTRY = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

export function isOciReference(text: string): boolean {
  return text.startsWith("oci://");
}

const PINNED = /@sha256:[0-9a-f]*$/;

/**
 * Where a login pasted before the host ends (`oci://user:pass@host/…`, `oci://token@host/…`, a password holding `/`
 * or `@`): the last `@` that does not start the digest; -1 when there is none.
 */
function userinfoEnd(text: string): number {
  const rest = text.replace(PINNED, "");
  const at = rest.lastIndexOf("@");
  // A host and repository follow a login; a malformed digest (`@sha512:…`) has no `/` after it.
  return at >= 0 && rest.includes("/", at) ? at : -1;
}

/** The text with a login pasted before the host masked, for messages. */
function withoutUserinfo(text: string): string {
  const end = userinfoEnd(text);
  return end < 0 || !text.startsWith("oci://") ? text : `oci://***${text.slice(end)}`;
}

/** Parses a reference; without tag or digest it means `latest`, as docker and oras read it. */
export function parseOciReference(text: string): OciReference {
  const bad = (why: string) => new ProcVisionError(ErrorCode.invalid_params, `${JSON.stringify(withoutUserinfo(text))} is not an OCI reference: ${why}`, {
    hint: "write oci://<registry>[:port]/<repository>:<tag> or oci://<registry>/<repository>@sha256:<digest>, e.g. oci://registry.plant:5000/vision/screw-check:1.2.0",
  });
  if (!isOciReference(text)) throw bad("it must start with oci://");
  if (userinfoEnd(text) >= 0) throw bad("credentials do not go into a reference (they would end up in logs): use --username/--password-stdin, a Docker config file, or fleet.registries");
  let rest = text.slice("oci://".length);
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(`the digest ${JSON.stringify(digest)} must be sha256: and 64 lower-case hex digits`);
  }
  const slash = rest.indexOf("/");
  if (slash <= 0) throw bad("the registry host and a repository are needed");
  const registry = rest.slice(0, slash);
  if (!REGISTRY.test(registry)) throw bad(`${JSON.stringify(registry)} is not a host[:port]`);
  let repository = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = repository.lastIndexOf(":");
  if (colon >= 0) {
    tag = repository.slice(colon + 1);
    repository = repository.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`the tag ${JSON.stringify(tag)} may hold letters, digits, '.', '_' and '-' (at most 128)`);
  }
  if (repository === "" || !repository.split("/").every((c) => COMPONENT.test(c))) {
    throw bad(`the repository ${JSON.stringify(repository)} must be lower-case path components (letters, digits, '.', '_', '-')`);
  }
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** What the manifest endpoint is asked for: the digest when pinned, else the tag (default `latest`). */
export function manifestReference(ref: OciReference): string {
  return ref.digest ?? ref.tag ?? "latest";
}

export function formatOciReference(ref: OciReference): string {
  return `oci://${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest !== undefined ? `@${ref.digest}` : ""}`;
}

/** The host without port, for the loopback rule of plain HTTP. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith("[") ? registry.slice(1, registry.indexOf("]")) : registry.split(":")[0]!;
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
