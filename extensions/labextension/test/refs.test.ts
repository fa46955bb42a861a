import { describe, expect, it } from 'vitest';

import { artifactPath, checkArtifactName, formatRef, nameFromPath, parseRef, versionFolder } from '../src/refs';

describe('parseRef', () => {
  it('reads numbers, aliases and bare artifacts', () => {
    expect(parseRef('users/alice/iris:3')).toEqual({ namespace: 'users/alice', name: 'iris', number: 3, alias: null });
    expect(parseRef('groups/vision/cnn@production'))
      .toEqual({ namespace: 'groups/vision', name: 'cnn', number: null, alias: 'production' });
    expect(parseRef('users/alice/iris')).toEqual({ namespace: 'users/alice', name: 'iris', number: null, alias: null });
  });

  it('refuses what is not a full reference', () => {
    for (const text of ['iris', 'teams/x/iris', 'users/alice/iris:x', 'users/alice/a/b']) {
      expect(parseRef(text)).toBeNull();
    }
  });
});

describe('paths and names', () => {
  it('writes references and REST paths', () => {
    expect(formatRef('users/alice/iris', 3)).toBe('users/alice/iris:3');
    expect(formatRef('users/alice/iris', '3')).toBe('users/alice/iris:3');
    expect(formatRef('users/alice/iris', 'production')).toBe('users/alice/iris@production');
    expect(artifactPath('models', 'users/a b/clf')).toBe('models/users/a%20b/clf');
    expect(versionFolder('iris', 4)).toBe('iris-v4');
  });

  it('checks artifact names as the registry does', () => {
    expect(checkArtifactName('iris_2.csv-v1')).toBeNull();
    expect(checkArtifactName('')).toBe('Give it a name.');
    expect(checkArtifactName('-iris')).toMatch(/not a valid name/);
    expect(checkArtifactName('a'.repeat(129))).toMatch(/at most 128/);
  });

  it('proposes a valid name from the path pushed', () => {
    expect(nameFromPath('data/iris/')).toBe('iris');
    expect(nameFromPath('data/train set.csv')).toBe('train-set');
    expect(nameFromPath('.hidden')).toBe('hidden');
    expect(nameFromPath('')).toBe('');
  });
});
