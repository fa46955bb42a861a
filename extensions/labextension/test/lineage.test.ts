import { describe, expect, it } from 'vitest';

import { lineageOf } from '../src/lineage';
import { parseMetrics, versionFacts } from '../src/metrics';
import type { Version } from '../src/types';

function version(extra: Partial<Version>): Version {
  return {
    artifact: 'users/alice/clf', kind: 'models', number: 2, created_at: '', created_by: 'alice', size: 10,
    file_count: 1, metadata: {}, aliases: ['latest'], ...extra
  };
}

describe('lineageOf', () => {
  it("links a model version to its datasets' versions, once each, newest first", () => {
    const model = version({
      lineage: {
        datasets: ['users/alice/iris:3', 'groups/vision/cifar:1', 'users/alice/iris:5', 'users/alice/iris:3'],
        workspace: null, user: 'alice', params: {}, metrics: {}, flavor: 'mlflow'
      }
    });
    const view = lineageOf(model);
    expect(view.title).toBe('Trained on');
    expect(view.links.map(l => l.ref)).toEqual(['groups/vision/cifar:1', 'users/alice/iris:5', 'users/alice/iris:3']);
    expect(view.links[1]).toEqual({ kind: 'datasets', ref: 'users/alice/iris:5', fullName: 'users/alice/iris', number: 5 });
  });

  it('links a dataset version to the models that used it', () => {
    const dataset = version({ artifact: 'users/alice/iris', kind: 'datasets', used_by: ['users/alice/clf:2'] });
    expect(lineageOf(dataset)).toEqual({
      title: 'Used by',
      links: [{ kind: 'models', ref: 'users/alice/clf:2', fullName: 'users/alice/clf', number: 2 }]
    });
  });

  it('is empty without lineage, and keeps an unreadable reference as text', () => {
    expect(lineageOf(version({})).links).toEqual([]);
    const odd = lineageOf(version({ artifact: 'users/alice/iris', kind: 'datasets', used_by: ['clf'] }));
    expect(odd.links).toEqual([{ kind: 'models', ref: 'clf', fullName: null, number: null }]);
  });
});

describe('metrics', () => {
  it('shows metrics, params and metadata as sorted rows', () => {
    const facts = versionFacts(version({
      metadata: { source: 'uci' },
      lineage: { datasets: [], workspace: null, user: null, params: { C: 1, solver: 'lbfgs' },
        metrics: { f1: 0.9, accuracy: 0.93 }, flavor: null }
    }));
    expect(facts.metrics).toEqual([{ key: 'accuracy', value: '0.93' }, { key: 'f1', value: '0.9' }]);
    expect(facts.params).toEqual([{ key: 'C', value: '1' }, { key: 'solver', value: 'lbfgs' }]);
    expect(facts.metadata).toEqual([{ key: 'source', value: 'uci' }]);
  });

  it('reads key=value lines and commas into numbers', () => {
    expect(parseMetrics('accuracy=0.93, f1 = 0.9\nloss=1e-3\n')).toEqual({
      value: { accuracy: 0.93, f1: 0.9, loss: 0.001 }, error: null
    });
    expect(parseMetrics('')).toEqual({ value: {}, error: null });
  });

  it('names the pair it cannot read', () => {
    expect(parseMetrics('accuracy')).toEqual({ value: null, error: '"accuracy" is not key=value (for example accuracy=0.93).' });
    expect(parseMetrics('=3').error).toMatch(/not key=value/);
    expect(parseMetrics('accuracy=high').error).toBe('The metric accuracy must be a number, not "high".');
  });
});
