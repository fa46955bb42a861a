import { describe, expect, it } from 'vitest';

import { ALL_NAMESPACES, filterArtifacts, mergeArtifacts, namespaceLabel } from '../src/filter';
import type { Artifact } from '../src/types';

function artifact(fullName: string, description = '', tags: string[] = []): Artifact {
  const parts = fullName.split('/');
  return {
    kind: 'datasets', namespace: parts.slice(0, 2).join('/'), name: parts[2], full_name: fullName,
    description, tags, created_at: '', updated_at: '', created_by: null, latest: 1, aliases: {}
  };
}

const artifacts = [
  artifact('users/alice/iris', 'Fisher iris measurements', ['tabular']),
  artifact('groups/vision/cifar', 'Small images', ['images']),
  artifact('users/alice/churn', 'Customer churn'),
  artifact('groups/vision/iris-photos', 'Photos of irises', ['images'])
];

describe('filterArtifacts', () => {
  it('keeps every artifact for an empty query, sorted by namespace then name', () => {
    expect(filterArtifacts(artifacts, '').map(a => a.full_name)).toEqual([
      'groups/vision/cifar', 'groups/vision/iris-photos', 'users/alice/churn', 'users/alice/iris'
    ]);
  });

  it('matches every word in name, description or tags, ignoring case', () => {
    expect(filterArtifacts(artifacts, 'IRIS').map(a => a.name)).toEqual(['iris-photos', 'iris']);
    expect(filterArtifacts(artifacts, 'iris images').map(a => a.name)).toEqual(['iris-photos']);
    expect(filterArtifacts(artifacts, 'customer').map(a => a.name)).toEqual(['churn']);
    expect(filterArtifacts(artifacts, 'nothing-like-this')).toEqual([]);
  });

  it('keeps one namespace when asked', () => {
    expect(filterArtifacts(artifacts, 'iris', 'users/alice').map(a => a.full_name)).toEqual(['users/alice/iris']);
    expect(filterArtifacts(artifacts, '', ALL_NAMESPACES)).toHaveLength(4);
  });
});

describe('mergeArtifacts and namespaceLabel', () => {
  it('lists an artifact once however many lists hold it', () => {
    expect(mergeArtifacts([artifacts.slice(0, 2), artifacts.slice(1)])).toHaveLength(4);
  });

  it('names namespaces for people', () => {
    expect(namespaceLabel('users/alice', 'users/alice')).toBe('alice (you)');
    expect(namespaceLabel('groups/vision', 'users/alice')).toBe('vision (team)');
    expect(namespaceLabel('users/bob', 'users/alice')).toBe('bob');
  });
});
