/**
 * One probe per key for the life of the process: interpreters do not change under a running CLI or runner, and each
 * probe spawns Python. A failed probe is forgotten, so the next call tries again.
 */
export function memoizeProbe<T>(probe: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const cache = new Map<string, Promise<T>>();
  return (key) => {
    let found = cache.get(key);
    if (!found) {
      found = probe(key);
      cache.set(key, found);
      found.catch(() => cache.delete(key));
    }
    return found;
  };
}
