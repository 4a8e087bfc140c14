import type { ResolvedWheel } from "./resolve.js";

/**
 * The order pip installs resolved distributions in (pip's `get_installation_order` and `get_topological_weights`):
 * leaves are pruned repeatedly, each round weighing less than the one before; what remains is weighed by its
 * longest path from the root (cycles cut); then heaviest first, ties by name descending. The order decides which
 * file wins when two wheels ship the same path (opencv-python and opencv-python-headless both ship `cv2/…`): the
 * later one, as with pip.
 */
export function installOrder(wheels: readonly ResolvedWheel[]): ResolvedWheel[] {
  const byName = new Map(wheels.map((w) => [w.name, w]));
  // The resolver's graph: the root (null) → requested distributions, each distribution → its dependencies here.
  const children = new Map<string | null, Set<string>>([[null, new Set(wheels.filter((w) => w.requested).map((w) => w.name))]]);
  for (const w of wheels) children.set(w.name, new Set(w.dependencies.filter((d) => byName.has(d))));
  const weights = new Map<string, number>();

  for (;;) {
    const leaves = [...children].filter(([node, kids]) => node !== null && kids.size === 0).map(([node]) => node!);
    if (leaves.length === 0) break;
    const weight = children.size - 1;
    for (const leaf of leaves) weights.set(leaf, weight);
    for (const leaf of leaves) children.delete(leaf);
    for (const kids of children.values()) for (const leaf of leaves) kids.delete(leaf);
  }

  const path = new Set<string | null>();
  const visit = (node: string | null): void => {
    if (path.has(node)) return; // a cycle: cut here
    path.add(node);
    for (const child of children.get(node) ?? []) visit(child);
    path.delete(node);
    if (node !== null) weights.set(node, Math.max(weights.get(node) ?? 0, path.size));
  };
  visit(null);

  const weightOf = (w: ResolvedWheel): number => weights.get(w.name) ?? 0;
  return [...wheels].sort((a, b) => weightOf(b) - weightOf(a) || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
}
