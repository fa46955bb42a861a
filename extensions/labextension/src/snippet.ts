/** The Python that loads a version with `mllab.client` (the "Copy Python snippet" button). */

import { versionFolder } from './refs';
import type { Version } from './types';

/** A Python string literal (JSON's double-quoted strings are Python's too, for these characters). */
function literal(text: string): string {
  return JSON.stringify(text);
}

/**
 * Code that downloads the exact version (`namespace/name:N`) into a folder of its own and, for a
 * model saved in MLflow's format, loads it.
 */
export function pythonSnippet(version: Version): string {
  const ref = `${version.artifact}:${version.number}`;
  const name = version.artifact.split('/').pop() ?? version.artifact;
  const folder = versionFolder(name, version.number);
  const collection = version.kind === 'models' ? 'models' : 'datasets';
  const mlflow = version.kind === 'models' && version.lineage?.flavor === 'mlflow';
  const lines = [
    ...(mlflow ? ['import mlflow.pyfunc'] : []),
    'from mllab.client import Client',
    '',
    'client = Client()',
    `result = client.${collection}.pull(${literal(ref)}, ${literal(folder)})`
  ];
  if (mlflow) {
    lines.push('model = mlflow.pyfunc.load_model(str(result.dest))', '# model.predict(data)');
  } else {
    lines.push('paths = result.paths  # the files of the version, in ' + literal(folder));
  }
  return lines.join('\n') + '\n';
}
