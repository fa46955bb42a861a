/** The Datasets and Models side panels: the user's and their teams' artifacts, searchable, each openable. */

import { ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import * as React from 'react';

import { describeError } from '../errors';
import { ALL_NAMESPACES, filterArtifacts, mergeArtifacts, namespaceLabel } from '../filter';
import type { Lab } from '../lab';
import { CommandIDs, type OpenArtifactArgs } from '../lab';
import type { Artifact, Context, Kind } from '../types';
import { datasetsIcon, modelsIcon } from '../icons';
import { Alert } from './Alert';
import { ArtifactDetail } from './ArtifactDetail';
import { Header } from './Header';
import { useSignal } from './hooks';
import { NamespaceSelect } from './NamespaceSelect';
import { RefreshButton } from './RefreshButton';
import { TransferList } from './TransferList';

interface Opened {
  fullName: string;
  number: number | null;
  /** Makes a second request for the same version open it afresh (e.g. after a new push). */
  serial: number;
}

interface ViewProps {
  lab: Lab;
  kind: Kind;
  /** Emitted when `takePending` has a request to open an artifact. */
  requests: Signal<ArtifactsPanel, void>;
  takePending: () => OpenArtifactArgs | null;
}

function ArtifactItem({ artifact, context, onOpen }: { artifact: Artifact; context: Context | null; onOpen: () => void }): JSX.Element {
  return (
    <li>
      <button type="button" className="mllab-Item" data-name={artifact.full_name} onClick={onOpen}>
        <span className="mllab-Item-name">{artifact.name}</span>
        <span className="mllab-Item-meta">
          {context ? namespaceLabel(artifact.namespace, context.namespace) : artifact.namespace}
          {artifact.latest !== null ? ` · v${artifact.latest}` : ' · no version'}
        </span>
        {artifact.description && <span className="mllab-Item-description">{artifact.description}</span>}
      </button>
    </li>
  );
}

function ArtifactsView({ lab, kind, requests, takePending }: ViewProps): JSX.Element {
  const [context, setContext] = React.useState<Context | null>(null);
  const [artifacts, setArtifacts] = React.useState<Artifact[]>([]);
  const [loading, setLoading] = React.useState(true);
  const [error, setError] = React.useState<string | null>(null);
  const [query, setQuery] = React.useState('');
  const [namespace, setNamespace] = React.useState(ALL_NAMESPACES);
  const [opened, setOpened] = React.useState<Opened | null>(null);
  const serial = React.useRef(0);
  // Back from a detail, the focus returns to the search box (the detail it was in is gone).
  const search = React.useRef<HTMLInputElement>(null);
  const back = React.useRef(false);
  React.useEffect(() => {
    if (!opened && back.current) {
      back.current = false;
      search.current?.focus();
    }
  }, [opened]);
  const noun = kind === 'datasets' ? 'datasets' : 'models';

  const refresh = React.useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      const ctx = await lab.context();
      setContext(ctx);
      const lists = await Promise.all(ctx.namespaces.map(ns => lab.api.artifacts(kind, ns)));
      setArtifacts(mergeArtifacts(lists));
    } catch (e) {
      setError(describeError(e));
    } finally {
      setLoading(false);
    }
  }, [lab, kind]);

  React.useEffect(() => {
    void refresh();
  }, [refresh]);

  const open = (fullName: string, number: number | null = null): void => {
    serial.current += 1;
    setOpened({ fullName, number, serial: serial.current });
  };

  // A request may come before the view is drawn (a lineage link opening the other panel).
  const openPending = (): void => {
    const pending = takePending();
    if (pending) {
      open(pending.fullName, pending.number ?? null);
    }
  };
  useSignal(requests, openPending);
  React.useEffect(openPending, []);
  useSignal(lab.transfers.finished, (_, transfer) => {
    if (transfer.kind === kind && transfer.direction === 'push' && transfer.state === 'done' && transfer.version) {
      void refresh();
      open(transfer.version.artifact, transfer.version.number);
    }
  });

  const shown = filterArtifacts(artifacts, query, namespace);
  return (
    <div className="mllab-Panel-body">
      <Header icon={kind === 'datasets' ? datasetsIcon : modelsIcon} label={kind === 'datasets' ? 'Datasets' : 'Models'} />
      <TransferList lab={lab} kind={kind} />
      {opened ? (
        <ArtifactDetail
          key={`${opened.fullName}#${opened.serial}`}
          lab={lab}
          kind={kind}
          fullName={opened.fullName}
          number={opened.number}
          onBack={() => {
            back.current = true;
            setOpened(null);
          }}
          onOpenLink={link =>
            void lab.commands.execute(CommandIDs.openArtifact, {
              kind: link.kind,
              fullName: link.fullName ?? '',
              number: link.number
            })
          }
        />
      ) : (
        <>
          <div className="mllab-Toolbar">
            <input
              ref={search}
              type="search"
              className="jp-mod-styled mllab-Search"
              placeholder={`Search ${noun}`}
              aria-label={`Search ${noun}`}
              value={query}
              onChange={event => setQuery(event.target.value)}
              onKeyDown={event => {
                // Enter in the search box opens the first match.
                if (event.key === 'Enter' && shown.length) {
                  open(shown[0].full_name);
                }
              }}
            />
            <NamespaceSelect context={context} value={namespace} onChange={setNamespace} />
            <RefreshButton what={noun} onRefresh={() => void refresh()} />
          </div>
          <Alert message={error} />
          {loading && !artifacts.length ? (
            <p className="mllab-Muted">Loading…</p>
          ) : shown.length ? (
            <ul className="mllab-List" aria-label={noun}>
              {shown.map(a => (
                <ArtifactItem key={a.full_name} artifact={a} context={context} onOpen={() => open(a.full_name)} />
              ))}
            </ul>
          ) : (
            !error && (
              <p className="mllab-Muted">
                {artifacts.length
                  ? `No ${noun} match.`
                  : kind === 'datasets'
                    ? 'No datasets yet. Right-click a file or folder in the file browser and choose "Push as dataset version…".'
                    : 'No models yet. Right-click a model folder in the file browser and choose "Register as model version…".'}
              </p>
            )
          )}
        </>
      )}
    </div>
  );
}

/** A side panel listing the artifacts of one kind. */
export class ArtifactsPanel extends ReactWidget {
  private readonly requests = new Signal<ArtifactsPanel, void>(this);
  private pending: OpenArtifactArgs | null = null;

  constructor(
    private readonly lab: Lab,
    private readonly kind: Kind
  ) {
    super();
    this.addClass('mllab-Panel');
    this.node.tabIndex = -1;
  }

  /** Show one artifact (at a version, or its latest). */
  open(args: OpenArtifactArgs): void {
    this.pending = args;
    this.requests.emit();
  }

  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    // The panel itself takes the focus; Tab then walks its controls in order.
    if (!this.node.contains(document.activeElement)) {
      this.node.focus();
    }
  }

  render(): JSX.Element {
    const takePending = (): OpenArtifactArgs | null => {
      const pending = this.pending;
      this.pending = null;
      return pending;
    };
    return <ArtifactsView lab={this.lab} kind={this.kind} requests={this.requests} takePending={takePending} />;
  }
}
