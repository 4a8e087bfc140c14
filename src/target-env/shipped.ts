/**
 * What of the build machine's index settings may travel in a package's `.procvision_env.json`. A station installs
 * from the zip's own wheels and never reaches an index, so these are only a record of where the wheels came from:
 * URLs lose their credentials (userinfo, secret-looking query values), local find_links paths are dropped.
 */
const SECRET_PARAM = /token|key|secret|pass|auth|sig|credential|session/i;
export const REDACTED = "REDACTED";

function httpUrl(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url : undefined;
  } catch {
    return undefined;
  }
}

/** An http(s) URL without its secrets; anything else (a local path) as it is: for messages on the author's machine. */
export function withoutSecrets(value: string): string {
  const url = httpUrl(value);
  if (url === undefined) return value;
  url.username = "";
  url.password = "";
  for (const name of new Set(url.searchParams.keys())) if (SECRET_PARAM.test(name)) url.searchParams.set(name, REDACTED);
  return url.toString();
}

/** An http(s) URL without its secrets; anything else (a local path, file:) → undefined, a station cannot use it. */
export function redactIndexUrl(value: string): string | undefined {
  return httpUrl(value) === undefined ? undefined : withoutSecrets(value);
}

export interface IndexSettings {
  indexUrl: string | null;
  extraIndexUrls: readonly string[];
  findLinks: readonly string[];
}

/** The index fields of the packaged `.procvision_env.json` (contract §1 shape), safe to ship to every station. */
export function shippedIndexSettings(s: IndexSettings): { index_url: string | null; extra_index_urls: string[]; find_links: string[] } {
  const urls = (values: readonly string[]) => values.map(redactIndexUrl).filter((v): v is string => v !== undefined);
  return {
    index_url: s.indexUrl === null ? null : redactIndexUrl(s.indexUrl) ?? null,
    extra_index_urls: urls(s.extraIndexUrls),
    find_links: urls(s.findLinks),
  };
}
