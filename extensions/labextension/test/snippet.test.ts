import { describe, expect, it } from 'vitest';

import { pythonSnippet } from '../src/snippet';
import type { Version } from '../src/types';

const base: Version = {
  artifact: 'users/alice/iris', kind: 'datasets', number: 3, created_at: '', created_by: 'alice', size: 10,
  file_count: 1, metadata: {}, aliases: []
};

describe('pythonSnippet', () => {
  it('pulls a dataset version into a folder of its own', () => {
    expect(pythonSnippet(base)).toBe(
      'from mllab.client import Client\n\n' +
      'client = Client()\n' +
      'result = client.datasets.pull("users/alice/iris:3", "iris-v3")\n' +
      'paths = result.paths  # the files of the version, in "iris-v3"\n'
    );
  });

  it('loads an MLflow model with mlflow.pyfunc', () => {
    const model: Version = {
      ...base, artifact: 'groups/vision/clf', kind: 'models', number: 2,
      lineage: { datasets: [], workspace: null, user: null, params: {}, metrics: {}, flavor: 'mlflow' }
    };
    expect(pythonSnippet(model)).toBe(
      'import mlflow.pyfunc\nfrom mllab.client import Client\n\n' +
      'client = Client()\n' +
      'result = client.models.pull("groups/vision/clf:2", "clf-v2")\n' +
      'model = mlflow.pyfunc.load_model(str(result.dest))\n# model.predict(data)\n'
    );
  });

  it('only pulls a model of another flavor', () => {
    const model: Version = { ...base, artifact: 'users/alice/net', kind: 'models', number: 1 };
    const code = pythonSnippet(model);
    expect(code).toContain('client.models.pull("users/alice/net:1", "net-v1")');
    expect(code).not.toContain('mlflow');
  });
});
