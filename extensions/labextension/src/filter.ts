/** The search box and the namespace filter of the artifact panels. */

import type { Artifact } from './types';

/** The value of the namespace filter that keeps every namespace. */
export const ALL_NAMESPACES = '';

/**
 * Artifacts in `namespace` (or all) whose name, namespace, description or tags contain every
 * word of `query` (case-insensitive), sorted by namespace then name.
 */
export function filterArtifacts(artifacts: Artifact[], query: string, namespace: string = ALL_NAMESPACES): Artifact[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return artifacts
    .filter(a => namespace === ALL_NAMESPACES || a.namespace === namespace)
    .filter(a => {
      const text = [a.full_name, a.description ?? '', ...(a.tags ?? [])].join(' ').toLowerCase();
      return words.every(word => text.includes(word));
    })
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/** Lists of artifacts from several namespaces merged, each artifact once. */
export function mergeArtifacts(lists: Artifact[][]): Artifact[] {
  const byName = new Map<string, Artifact>();
  for (const list of lists) {
    for (const artifact of list) {
      byName.set(artifact.full_name, artifact);
    }
  }
  return [...byName.values()];
}

/** A namespace as people read it: `users/alice` -> `alice (you)` for the caller, `groups/vision` -> `vision (team)`. */
export function namespaceLabel(namespace: string, own: string): string {
  const [ownerKind, owner] = namespace.split('/', 2);
  if (namespace === own) {
    return `${owner} (you)`;
  }
  return ownerKind === 'groups' ? `${owner} (team)` : owner ?? namespace;
}
