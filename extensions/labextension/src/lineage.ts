/**
 * Lineage as the panels show it: a model version links to the dataset versions it was trained
 * on (`lineage.datasets`); a dataset version links to the model versions that used it (`used_by`).
 */

import { parseRef } from './refs';
import type { Kind, Version } from './types';

export interface LineageLink {
  /** The kind of the version linked to. */
  kind: Kind;
  /** The reference as the registry wrote it, e.g. `users/alice/iris:3`. */
  ref: string;
  /** The artifact (`users/alice/iris`), or null when the reference cannot be read. */
  fullName: string | null;
  number: number | null;
}

export interface LineageView {
  /** `Trained on` (a model's datasets) or `Used by` (a dataset's models). */
  title: string;
  links: LineageLink[];
}

function link(kind: Kind, ref: string): LineageLink {
  const parsed = parseRef(ref);
  return {
    kind,
    ref,
    fullName: parsed ? `${parsed.namespace}/${parsed.name}` : null,
    number: parsed?.number ?? null
  };
}

/** The lineage of a version, each reference once, sorted by artifact then newest version first. */
export function lineageOf(version: Version): LineageView {
  const model = version.kind === 'models';
  const refs = model ? version.lineage?.datasets ?? [] : version.used_by ?? [];
  const links = [...new Set(refs)]
    .map(ref => link(model ? 'datasets' : 'models', ref))
    .sort(
      (a, b) =>
        (a.fullName ?? a.ref).localeCompare(b.fullName ?? b.ref) || (b.number ?? 0) - (a.number ?? 0)
    );
  return { title: model ? 'Trained on' : 'Used by', links };
}
