/** Deployment names and states as the deployments service has them. */

import type { Deployment, DeploymentStatus } from './types';

const MAX_NAME = 40;
export const DEPLOYMENT_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

/** A deployment name made from a model name: lower case, DNS-label characters, at most 40. */
export function deploymentName(modelName: string): string {
  const name = modelName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, MAX_NAME)
    .replace(/^-+|-+$/g, '');
  return name || 'model';
}

/** Why a name cannot name a deployment, or null when it can. */
export function checkDeploymentName(name: string): string | null {
  if (DEPLOYMENT_NAME.test(name)) {
    return null;
  }
  return (
    'A deployment name has lower-case letters, digits and dashes (not first or last), ' +
    `at most ${MAX_NAME} characters: "${name}" is not one.`
  );
}

/** Whether a deployment's status is about to change on its own (the panel keeps polling then):
 * it is starting, or it was told to stop and has not yet. */
export function isSettling(deployment: Pick<Deployment, 'status' | 'desired'>): boolean {
  const moving: DeploymentStatus[] = ['pending', 'starting'];
  return moving.includes(deployment.status) || (deployment.desired === 'stopped' && deployment.status !== 'stopped');
}

/** What the deployment serves: `users/alice/clf@production (version 3)`. */
export function servedModel(deployment: Deployment): string {
  if (!deployment.model) {
    return deployment.kind;
  }
  return deployment.model_version !== null
    ? `${deployment.model} (version ${deployment.model_version})`
    : deployment.model;
}
