/** Metrics and params: shown as rows, typed by people as `key=value` lines. */

import type { Version } from './types';

export interface Row {
  key: string;
  value: string;
}

function rows(values: Record<string, unknown> | undefined): Row[] {
  return Object.entries(values ?? {})
    .map(([key, value]) => ({ key, value: typeof value === 'string' ? value : JSON.stringify(value) }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

/** A version's metrics, params and metadata as sorted rows (models carry metrics and params in their lineage). */
export function versionFacts(version: Version): { metrics: Row[]; params: Row[]; metadata: Row[] } {
  return {
    metrics: rows(version.lineage?.metrics),
    params: rows(version.lineage?.params),
    metadata: rows(version.metadata)
  };
}

export type Parsed<T> = { value: T; error: null } | { value: null; error: string };

/**
 * `key=value` pairs, one per line or separated by commas, into numbers: `accuracy=0.93, f1=0.9`.
 * Metrics are numbers for the registry, so anything else is an error naming the pair.
 */
export function parseMetrics(text: string): Parsed<Record<string, number>> {
  const metrics: Record<string, number> = {};
  for (const raw of text.split(/[\n,]/)) {
    const pair = raw.trim();
    if (!pair) {
      continue;
    }
    const equals = pair.indexOf('=');
    const key = equals > 0 ? pair.slice(0, equals).trim() : '';
    const value = equals > 0 ? pair.slice(equals + 1).trim() : '';
    if (!key || !value) {
      return { value: null, error: `"${pair}" is not key=value (for example accuracy=0.93).` };
    }
    const number = Number(value);
    if (!Number.isFinite(number)) {
      return { value: null, error: `The metric ${key} must be a number, not "${value}".` };
    }
    metrics[key] = number;
  }
  return { value: metrics, error: null };
}
