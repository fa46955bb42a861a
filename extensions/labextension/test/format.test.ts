import { describe, expect, it } from 'vitest';

import { formatSize, transferFraction, transferSummary } from '../src/format';
import type { Transfer } from '../src/types';

describe('formatSize', () => {
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1 KB'],
    [1536, '1.54 KB'],
    [12_345_678, '12.3 MB'],
    [999_999, '1 MB'],
    [5 * 1024 ** 4, '5.5 TB'],
    [-1, '?'],
    [Number.NaN, '?']
  ])('%s bytes read %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});

function transfer(extra: Partial<Transfer>): Transfer {
  return {
    id: 't1', direction: 'push', kind: 'datasets', path: 'data/iris', ref: 'users/alice/iris',
    state: 'running', bytes_done: 0, bytes_total: 0, files_done: 0, files_total: 0, error: null,
    version: null, ...extra
  };
}

describe('transfer progress', () => {
  it('counts bytes, else files, else is unknown', () => {
    expect(transferFraction(transfer({ bytes_done: 250, bytes_total: 1000 }))).toBe(0.25);
    expect(transferFraction(transfer({ files_done: 1, files_total: 4 }))).toBe(0.25);
    expect(transferFraction(transfer({}))).toBeNull();
    expect(transferFraction(transfer({ state: 'done' }))).toBe(1);
  });

  it('says what moves where and how far', () => {
    expect(transferSummary(transfer({ bytes_done: 1500, bytes_total: 3000, files_done: 1, files_total: 2 })))
      .toBe('data/iris → users/alice/iris: 1.5 KB of 3 KB, 1 of 2 files');
    expect(transferSummary(transfer({ state: 'failed', error: 'The registry refused the upload.' })))
      .toBe('data/iris → users/alice/iris: failed. The registry refused the upload.');
    const version = { artifact: 'users/alice/iris', number: 4 } as Transfer['version'];
    expect(transferSummary(transfer({ state: 'done', version }))).toBe('data/iris → users/alice/iris:4: done');
    expect(transferSummary(transfer({ direction: 'pull', path: 'iris-v4', ref: 'users/alice/iris:4', state: 'done' })))
      .toBe('users/alice/iris:4 → iris-v4: done');
  });
});
