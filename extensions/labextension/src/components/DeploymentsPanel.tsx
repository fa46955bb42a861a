/** The Deployments side panel: the user's and their teams' deployments, each with its status, logs and actions. */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import * as React from 'react';

import { isSettling, servedModel } from '../deploy';
import { deployDialog } from '../dialogs/DeployDialog';
import { describeError } from '../errors';
import { ALL_NAMESPACES, namespaceLabel } from '../filter';
import { formatTime } from '../format';
import type { Lab } from '../lab';
import type { Context, Deployment } from '../types';
import { deploymentsIcon } from '../icons';
import { Alert } from './Alert';
import { Header } from './Header';
import { NamespaceSelect } from './NamespaceSelect';
import { RefreshButton } from './RefreshButton';
import { TryIt } from './TryIt';

/** How often the list is read again while a deployment is starting (milliseconds). */
const POLL_INTERVAL = 2000;

function Status({ deployment }: { deployment: Deployment }): JSX.Element {
  return (
    <span className={`mllab-Status mllab-mod-${deployment.status}`} data-status={deployment.status}>
      {deployment.status}
    </span>
  );
}

interface DetailProps {
  lab: Lab;
  deployment: Deployment;
  onBack: () => void;
  onChanged: () => void;
}

function DeploymentDetail({ lab, deployment, onBack, onChanged }: DetailProps): JSX.Element {
  const [logs, setLogs] = React.useState<string | null>(null);
  const [problem, setProblem] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState(false);

  const run = async (work: () => Promise<unknown>): Promise<void> => {
    setBusy(true);
    setProblem(null);
    try {
      await work();
      onChanged();
    } catch (error) {
      setProblem(describeError(error));
    } finally {
      setBusy(false);
    }
  };

  const showLogs = (): Promise<void> =>
    run(async () => setLogs((await lab.api.logs(deployment.full_name)) || '(no output yet)'));

  const remove = async (): Promise<void> => {
    const answer = await showDialog({
      title: `Delete ${deployment.full_name}?`,
      body: 'Its runtime is stopped and removed, and the deployment is forgotten. The model version stays in the registry.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (answer.button.accept) {
      await run(async () => {
        await lab.api.remove(deployment.full_name);
        onBack();
      });
    }
  };

  const root = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => root.current?.focus(), []);

  const stopped = deployment.desired === 'stopped';
  return (
    <div
      className="mllab-Detail"
      ref={root}
      tabIndex={-1}
      aria-label={`deployment ${deployment.full_name}`}
      onKeyDown={event => {
        if (event.key === 'Escape') {
          event.stopPropagation();
          onBack();
        }
      }}
    >
      <button type="button" className="mllab-LinkButton mllab-Back" onClick={onBack}>
        ← All deployments
      </button>
      <h3 className="mllab-Title">
        {deployment.full_name} <Status deployment={deployment} />
      </h3>
      <table className="mllab-Table">
        <tbody>
          <tr>
            <th scope="row">Serves</th>
            <td>{servedModel(deployment)}</td>
          </tr>
          <tr>
            <th scope="row">Endpoint</th>
            <td className="mllab-Path">{deployment.url}</td>
          </tr>
          <tr>
            <th scope="row">Updated</th>
            <td>{formatTime(deployment.updated_at)}</td>
          </tr>
        </tbody>
      </table>
      {deployment.message && <p className="mllab-Message">{deployment.message}</p>}
      <Alert message={problem} />
      <div className="mllab-Actions">
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-reject"
          disabled={busy}
          onClick={() => void run(() => lab.api.act(deployment.full_name, stopped ? 'start' : 'stop'))}
        >
          {stopped ? 'Start' : 'Stop'}
        </button>
        <button type="button" className="jp-Button jp-mod-styled jp-mod-reject" disabled={busy} onClick={() => void showLogs()}>
          {logs === null ? 'Show logs' : 'Refresh logs'}
        </button>
        <button type="button" className="jp-Button jp-mod-styled jp-mod-warn" disabled={busy} onClick={() => void remove()}>
          Delete
        </button>
      </div>
      {logs !== null && (
        <section className="mllab-Section" aria-label="Logs">
          <h4>Logs</h4>
          <pre className="mllab-Code mllab-Logs" tabIndex={0}>
            {logs}
          </pre>
        </section>
      )}
      {deployment.kind === 'model' && <TryIt lab={lab} deployment={deployment} />}
    </div>
  );
}

function DeploymentsView({ lab }: { lab: Lab }): JSX.Element {
  const [context, setContext] = React.useState<Context | null>(null);
  const [deployments, setDeployments] = React.useState<Deployment[]>([]);
  const [loading, setLoading] = React.useState(true);
  const [error, setError] = React.useState<string | null>(null);
  const [namespace, setNamespace] = React.useState(ALL_NAMESPACES);
  const [opened, setOpened] = React.useState<string | null>(null);
  // Back from a detail, the focus returns to the panel's first control.
  const first = React.useRef<HTMLButtonElement>(null);
  const back = React.useRef(false);
  React.useEffect(() => {
    if (!opened && back.current) {
      back.current = false;
      first.current?.focus();
    }
  }, [opened]);

  const refresh = React.useCallback(async () => {
    try {
      const ctx = await lab.context();
      setContext(ctx);
      const lists = await Promise.all(ctx.namespaces.map(ns => lab.api.deployments(ns)));
      setDeployments(lists.flat().sort((a, b) => a.full_name.localeCompare(b.full_name)));
      setError(null);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setLoading(false);
    }
  }, [lab]);

  React.useEffect(() => {
    void refresh();
  }, [refresh]);

  // Read the list again while something is on its way to a final status.
  const settling = deployments.some(isSettling);
  React.useEffect(() => {
    if (!settling) {
      return;
    }
    const timer = setInterval(() => void refresh(), POLL_INTERVAL);
    return () => clearInterval(timer);
  }, [settling, refresh]);

  const deploy = async (): Promise<void> => {
    try {
      const created = await deployDialog(lab);
      if (created) {
        await refresh();
        setOpened(created.full_name);
      }
    } catch (e) {
      setError(describeError(e));
    }
  };

  const current = deployments.find(d => d.full_name === opened);
  if (opened && current) {
    return (
      <div className="mllab-Panel-body">
        <Header icon={deploymentsIcon} label="Deployments" />
        <DeploymentDetail
          lab={lab}
          deployment={current}
          onBack={() => {
            back.current = true;
            setOpened(null);
          }}
          onChanged={() => void refresh()}
        />
      </div>
    );
  }
  const shown = deployments.filter(d => namespace === ALL_NAMESPACES || d.namespace === namespace);
  return (
    <div className="mllab-Panel-body">
      <Header icon={deploymentsIcon} label="Deployments" />
      <div className="mllab-Toolbar">
        <button ref={first} type="button" className="jp-Button jp-mod-styled jp-mod-accept" onClick={() => void deploy()}>
          Deploy a model version
        </button>
        <NamespaceSelect context={context} value={namespace} onChange={setNamespace} />
        <RefreshButton what="deployments" onRefresh={() => void refresh()} />
      </div>
      <Alert message={error} />
      {loading ? (
        <p className="mllab-Muted">Loading…</p>
      ) : shown.length ? (
        <ul className="mllab-List" aria-label="deployments">
          {shown.map(d => (
            <li key={d.full_name}>
              <button type="button" className="mllab-Item" data-name={d.full_name} onClick={() => setOpened(d.full_name)}>
                <span className="mllab-Item-name">
                  {d.name} <Status deployment={d} />
                </span>
                <span className="mllab-Item-meta">
                  {context ? namespaceLabel(d.namespace, context.namespace) : d.namespace} · {servedModel(d)}
                </span>
              </button>
            </li>
          ))}
        </ul>
      ) : (
        !error && <p className="mllab-Muted">No deployments yet.</p>
      )}
    </div>
  );
}

/** A side panel listing deployments. */
export class DeploymentsPanel extends ReactWidget {
  constructor(private readonly lab: Lab) {
    super();
    this.addClass('mllab-Panel');
    this.node.tabIndex = -1;
  }

  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    if (!this.node.contains(document.activeElement)) {
      this.node.focus();
    }
  }

  render(): JSX.Element {
    return <DeploymentsView lab={this.lab} />;
  }
}
