/**
 * The shapes the registry, the deployments service and the workspace's server extension answer
 * (services/registry/API.md, services/deployments/API.md, the lab contract).
 */

export type Kind = 'datasets' | 'models';

export interface Context {
  user: string;
  namespace: string;
  namespaces: string[];
  hub_url: string;
  services: { registry?: string; deployments?: string };
}

/** A page of a list; `next` is the cursor of the following page (`?after=`), null on the last. */
export interface Page<T> {
  items: T[];
  limit: number;
  next: string | null;
}

export interface Artifact {
  kind: Kind;
  namespace: string;
  name: string;
  full_name: string;
  description: string | null;
  tags: string[];
  created_at: string;
  updated_at: string;
  created_by: string | null;
  latest: number | null;
  aliases: Record<string, number>;
}

export interface VersionFile {
  path: string;
  size: number;
  sha256: string;
  media_type: string | null;
}

export interface Lineage {
  datasets: string[];
  workspace: string | null;
  user: string | null;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
  flavor: string | null;
}

export interface Version {
  artifact: string;
  kind: Kind;
  number: number;
  created_at: string;
  created_by: string | null;
  size: number;
  file_count: number;
  metadata: Record<string, unknown>;
  files?: VersionFile[];
  aliases: string[];
  lineage?: Lineage;
  used_by?: string[];
}

export type TransferState = 'running' | 'done' | 'failed';

export interface Transfer {
  id: string;
  direction: 'push' | 'pull';
  kind: Kind;
  path: string;
  ref: string | null;
  state: TransferState;
  bytes_done: number;
  bytes_total: number;
  files_done: number;
  files_total: number;
  error: string | null;
  version: Version | null;
}

export interface TransferRequest {
  direction: 'push' | 'pull';
  kind: Kind;
  path: string;
  name?: string;
  namespace?: string;
  ref?: string;
  description?: string;
  datasets?: string[];
  metrics?: Record<string, number>;
  params?: Record<string, unknown>;
}

export type DeploymentStatus = 'pending' | 'starting' | 'ready' | 'failed' | 'stopped';

export interface Deployment {
  namespace: string;
  name: string;
  full_name: string;
  kind: 'model' | 'service';
  model: string | null;
  model_version: number | null;
  status: DeploymentStatus;
  message: string | null;
  desired: 'running' | 'stopped';
  url: string;
  created_at: string;
  updated_at: string;
  created_by: string | null;
}
