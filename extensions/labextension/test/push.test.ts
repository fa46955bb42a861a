import { describe, expect, it } from 'vitest';

import { datasetChoices, pushRequest, type PushValues } from '../src/push';
import type { Artifact } from '../src/types';

function dataset(fullName: string, aliases: Record<string, number>): Artifact {
  const parts = fullName.split('/');
  return {
    kind: 'datasets', namespace: parts.slice(0, 2).join('/'), name: parts[2], full_name: fullName, description: null,
    tags: [], created_at: '', updated_at: '', created_by: null, latest: aliases.latest ?? null, aliases
  };
}

const values: PushValues = { name: 'iris', namespace: 'users/alice', description: '', datasets: [], metrics: '' };

describe('datasetChoices', () => {
  it('offers each aliased version once, with its aliases, newest first', () => {
    const choices = datasetChoices([
      dataset('users/alice/iris', { latest: 3, production: 2, staging: 3 }),
      dataset('groups/vision/cifar', { latest: 1 }),
      dataset('users/alice/empty', {})
    ]);
    expect(choices).toEqual([
      { ref: 'groups/vision/cifar:1', label: 'groups/vision/cifar:1 (latest)' },
      { ref: 'users/alice/iris:3', label: 'users/alice/iris:3 (latest, staging)' },
      { ref: 'users/alice/iris:2', label: 'users/alice/iris:2 (production)' }
    ]);
  });
});

describe('pushRequest', () => {
  it('asks the server to push a dataset', () => {
    expect(pushRequest('datasets', 'data/iris', { ...values, name: ' iris ', description: ' Fisher ' })).toEqual({
      direction: 'push', kind: 'datasets', path: 'data/iris', name: 'iris', namespace: 'users/alice', description: 'Fisher'
    });
  });

  it('adds lineage and metrics for a model', () => {
    const request = pushRequest('models', 'model', {
      ...values, name: 'clf', datasets: ['users/alice/iris:3'], metrics: 'accuracy=0.93'
    });
    expect(request).toEqual({
      direction: 'push', kind: 'models', path: 'model', name: 'clf', namespace: 'users/alice',
      datasets: ['users/alice/iris:3'], metrics: { accuracy: 0.93 }
    });
  });

  it('answers why it cannot push', () => {
    expect(pushRequest('datasets', 'data', { ...values, name: '' })).toBe('Give it a name.');
    expect(pushRequest('models', 'model', { ...values, metrics: 'accuracy=high' }))
      .toBe('The metric accuracy must be a number, not "high".');
  });
});
