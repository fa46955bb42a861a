/**
 * Calls to the workspace's server extension (`mllab/api/...`, see the lab contract): the
 * services through its pass-through, the deployments' endpoints, and transfers. The browser
 * holds no token for the services; `ServerConnection` adds the Jupyter server's own.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { ApiError, describeError, errorCode, errorMessage } from './errors';
import { artifactPath, objectPath } from './refs';
import type {
  Artifact,
  Context,
  Deployment,
  Kind,
  Page,
  Transfer,
  TransferRequest,
  Version
} from './types';

/** The most items a list answers in one page (the services' maximum). */
const PAGE = 500;

function jsonBody(method: string, body?: unknown): RequestInit {
  return body === undefined
    ? { method }
    : { method, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } };
}

export class LabApi {
  constructor(private readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  /** A request below `mllab/api/`; a failed answer throws an `ApiError` with its readable message. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const url = URLExt.join(this.settings.baseUrl, 'mllab/api', path);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (error) {
      throw new ApiError(`The workspace server does not answer: ${describeError(error)}`, 0);
    }
    if (!response.ok) {
      const body = await response.text();
      throw new ApiError(errorMessage(response.status, body), response.status, errorCode(body));
    }
    return response;
  }

  async json<T>(path: string, method = 'GET', body?: unknown): Promise<T> {
    const response = await this.request(path, jsonBody(method, body));
    return (response.status === 204 ? undefined : await response.json()) as T;
  }

  /** Every item of a list, page after page (the services page by cursor). */
  async list<T>(path: string, params: Record<string, string> = {}): Promise<T[]> {
    const items: T[] = [];
    let after: string | null = null;
    do {
      const query = URLExt.objectToQueryString({ ...params, limit: PAGE, ...(after ? { after } : {}) });
      const page: Page<T> = await this.json<Page<T>>(`${path}${query}`);
      items.push(...page.items);
      after = page.next;
    } while (after);
    return items;
  }

  context(): Promise<Context> {
    return this.json<Context>('context');
  }

  // -- registry ------------------------------------------------------------------------------

  private registry<T>(path: string, method = 'GET', body?: unknown): Promise<T> {
    return this.json<T>(`services/registry/${path}`, method, body);
  }

  /** The artifacts of one namespace. */
  artifacts(kind: Kind, namespace: string): Promise<Artifact[]> {
    return this.list<Artifact>(`services/registry/${kind}`, { namespace });
  }

  artifact(kind: Kind, fullName: string): Promise<Artifact> {
    return this.registry<Artifact>(artifactPath(kind, fullName));
  }

  /** Every version of an artifact, newest first (without their files). */
  versions(kind: Kind, fullName: string): Promise<Version[]> {
    return this.list<Version>(`services/registry/${artifactPath(kind, fullName)}/versions`);
  }

  version(kind: Kind, fullName: string, ref: number | string): Promise<Version> {
    return this.registry<Version>(`${artifactPath(kind, fullName)}/versions/${encodeURIComponent(String(ref))}`);
  }

  // -- deployments ---------------------------------------------------------------------------

  private deploymentsService<T>(path: string, method = 'GET', body?: unknown): Promise<T> {
    return this.json<T>(`services/deployments/${path}`, method, body);
  }

  deployments(namespace: string): Promise<Deployment[]> {
    return this.list<Deployment>('services/deployments/deployments', { namespace });
  }

  deploy(spec: { model: string; name: string; namespace: string }): Promise<Deployment> {
    return this.deploymentsService<Deployment>('deployments', 'POST', spec);
  }

  /** `start`, `stop` or `restart` a deployment. */
  act(fullName: string, action: 'start' | 'stop' | 'restart'): Promise<Deployment> {
    return this.deploymentsService<Deployment>(`deployments/${objectPath(fullName)}/${action}`, 'POST');
  }

  remove(fullName: string): Promise<void> {
    return this.deploymentsService<void>(`deployments/${objectPath(fullName)}`, 'DELETE');
  }

  async logs(fullName: string, tail = 200): Promise<string> {
    const query = URLExt.objectToQueryString({ tail });
    const response = await this.request(`services/deployments/deployments/${objectPath(fullName)}/logs${query}`);
    return response.text();
  }

  /** POST `payload` to `path` below a deployment's endpoint (lab contract, section 4). */
  invoke(fullName: string, path: string, payload: unknown): Promise<unknown> {
    return this.json<unknown>(`endpoints/${objectPath(fullName)}/${path}`, 'POST', payload);
  }

  // -- transfers -----------------------------------------------------------------------------

  startTransfer(request: TransferRequest): Promise<Transfer> {
    return this.json<Transfer>('transfers', 'POST', request);
  }

  transfer(id: string): Promise<Transfer> {
    return this.json<Transfer>(`transfers/${encodeURIComponent(id)}`);
  }
}
