/**
 * References as the registry writes them (`users/alice/iris:3`, `groups/vision/cnn@production`)
 * and the REST paths they address.
 */

import type { Kind } from './types';

export interface Ref {
  namespace: string;
  name: string;
  number: number | null;
  alias: string | null;
}

const REF = /^((?:users|groups)\/[^/:@]+)\/([^/:@]+)(?::(\d+)|@([^/:@]+))?$/;

/** A full reference parsed; null when it is not `<users|groups>/<owner>/<name>[:N|@alias]`. */
export function parseRef(text: string): Ref | null {
  const match = REF.exec(text.trim());
  if (!match) {
    return null;
  }
  return {
    namespace: match[1],
    name: match[2],
    number: match[3] !== undefined ? Number(match[3]) : null,
    alias: match[4] ?? null
  };
}

/** `namespace/name:N` or `namespace/name@alias`. */
export function formatRef(fullName: string, version: number | string): string {
  return typeof version === 'number' || /^\d+$/.test(version)
    ? `${fullName}:${version}`
    : `${fullName}@${version}`;
}

/** The URL path of a namespace-addressed object (`users/alice/iris` -> `users/alice/iris`, owner encoded). */
export function objectPath(fullName: string): string {
  const [ownerKind, owner, ...rest] = fullName.split('/');
  return [ownerKind, encodeURIComponent(owner), ...rest.map(encodeURIComponent)].join('/');
}

/** The registry path of an artifact, below the API base: `datasets/users/alice/iris`. */
export function artifactPath(kind: Kind, fullName: string): string {
  return `${kind}/${objectPath(fullName)}`;
}

/** The folder a version is downloaded into, beside the user's files: `iris-v3`. */
export function versionFolder(name: string, number: number): string {
  return `${name}-v${number}`;
}

export const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Why a text cannot name an artifact, or null when it can. */
export function checkArtifactName(name: string): string | null {
  if (ARTIFACT_NAME.test(name)) {
    return null;
  }
  return name
    ? `"${name}" is not a valid name: letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128.`
    : 'Give it a name.';
}

/** A name proposed for a file or folder pushed: its base name without extension, made valid. */
export function nameFromPath(path: string): string {
  const base = path.split('/').filter(Boolean).pop() ?? '';
  const stem = base.includes('.') && !base.startsWith('.') ? base.slice(0, base.lastIndexOf('.')) : base;
  return stem
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 128);
}
