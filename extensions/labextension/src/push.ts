/** What the push and register dialogs ask, and the transfer it makes. */

import { parseMetrics } from './metrics';
import { checkArtifactName, formatRef } from './refs';
import type { Artifact, Kind, TransferRequest } from './types';

export interface PushValues {
  name: string;
  namespace: string;
  description: string;
  datasets: string[];
  metrics: string;
}

/** A dataset version a model can be linked to, with the aliases that point at it. */
export interface DatasetChoice {
  ref: string;
  label: string;
}

/** Each dataset's versions that have an alias (`latest` at least), newest first. */
export function datasetChoices(datasets: Artifact[]): DatasetChoice[] {
  const choices: DatasetChoice[] = [];
  for (const dataset of [...datasets].sort((a, b) => a.full_name.localeCompare(b.full_name))) {
    const byNumber = new Map<number, string[]>();
    for (const [alias, number] of Object.entries(dataset.aliases ?? {})) {
      byNumber.set(number, [...(byNumber.get(number) ?? []), alias]);
    }
    for (const number of [...byNumber.keys()].sort((a, b) => b - a)) {
      const ref = formatRef(dataset.full_name, number);
      choices.push({ ref, label: `${ref} (${byNumber.get(number)!.sort().join(', ')})` });
    }
  }
  return choices;
}

/** The transfer a dialog's values ask for; or why they cannot be sent. */
export function pushRequest(kind: Kind, path: string, values: PushValues): TransferRequest | string {
  const name = values.name.trim();
  const problem = checkArtifactName(name);
  if (problem) {
    return problem;
  }
  const request: TransferRequest = { direction: 'push', kind, path, name, namespace: values.namespace };
  if (values.description.trim()) {
    request.description = values.description.trim();
  }
  if (kind === 'models') {
    const metrics = parseMetrics(values.metrics);
    if (metrics.error !== null) {
      return metrics.error;
    }
    request.datasets = values.datasets;
    request.metrics = metrics.value;
  }
  return request;
}
