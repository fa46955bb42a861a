import { describe, expect, it } from 'vitest';

import { checkDeploymentName, deploymentName, isSettling, servedModel } from '../src/deploy';
import { EXAMPLE_PAYLOAD, endpointPath, formatAnswer, parsePayload } from '../src/payload';
import type { Deployment } from '../src/types';

describe('parsePayload', () => {
  it('takes a JSON object', () => {
    expect(parsePayload('{"dataframe_split": {"columns": ["a"], "data": [[1]]}}')).toEqual({
      value: { dataframe_split: { columns: ['a'], data: [[1]] } }, error: null
    });
    expect(parsePayload(EXAMPLE_PAYLOAD).error).toBeNull();
  });

  it('says what is wrong with anything else', () => {
    expect(parsePayload('  ').error).toBe('Write a JSON payload first.');
    expect(parsePayload('{"inputs": [1,}').error).toMatch(/^The payload is not valid JSON: /);
    expect(parsePayload('[1, 2]').error).toMatch(/must be a JSON object/);
    expect(parsePayload('42').error).toMatch(/must be a JSON object/);
  });
});

describe('endpoints and answers', () => {
  it('posts to the path of each protocol', () => {
    expect(endpointPath('mlflow', 'iris-clf')).toBe('invocations');
    expect(endpointPath('v2', 'iris-clf')).toBe('v2/models/iris-clf/infer');
  });

  it("shows MLflow's predictions and v2's outputs", () => {
    expect(formatAnswer({ predictions: [0, 1, 2] })).toBe('[0,1,2]');
    expect(formatAnswer({ model_name: 'm', outputs: [{ name: 'predict', data: [0, 1] }] })).toBe('predict: [0,1]');
    expect(formatAnswer({ other: true })).toBe('{\n  "other": true\n}');
  });
});

describe('deployment names and states', () => {
  it('makes a DNS label from a model name', () => {
    expect(deploymentName('Iris_Classifier.v2')).toBe('iris-classifier-v2');
    expect(deploymentName('--x--')).toBe('x');
    expect(deploymentName('a'.repeat(50))).toHaveLength(40);
    expect(deploymentName('___')).toBe('model');
  });

  it('checks names as the service does', () => {
    expect(checkDeploymentName('iris-clf')).toBeNull();
    expect(checkDeploymentName('Iris')).toMatch(/lower-case/);
    expect(checkDeploymentName('a-')).toMatch(/lower-case/);
  });

  it('knows which states settle on their own and what a deployment serves', () => {
    expect(isSettling({ status: 'pending', desired: 'running' })).toBe(true);
    expect(isSettling({ status: 'starting', desired: 'running' })).toBe(true);
    expect(isSettling({ status: 'ready', desired: 'running' })).toBe(false);
    expect(isSettling({ status: 'ready', desired: 'stopped' })).toBe(true);
    expect(isSettling({ status: 'stopped', desired: 'stopped' })).toBe(false);
    expect(isSettling({ status: 'failed', desired: 'running' })).toBe(false);
    const deployment = { kind: 'model', model: 'users/a/clf@production', model_version: 3 } as Deployment;
    expect(servedModel(deployment)).toBe('users/a/clf@production (version 3)');
    expect(servedModel({ ...deployment, model: null, kind: 'service' })).toBe('service');
  });
});
