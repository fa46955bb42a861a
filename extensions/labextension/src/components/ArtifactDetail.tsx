/** One artifact: its versions, and for the chosen one its files, aliases, lineage and metrics, and actions. */

import { Clipboard } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import * as React from 'react';

import { describeError } from '../errors';
import { formatSize, formatTime } from '../format';
import type { Lab } from '../lab';
import { lineageOf, type LineageLink } from '../lineage';
import { type Row, versionFacts } from '../metrics';
import { versionFolder } from '../refs';
import { pythonSnippet } from '../snippet';
import type { Artifact, Kind, Version } from '../types';
import { Alert } from './Alert';

interface Props {
  lab: Lab;
  kind: Kind;
  fullName: string;
  /** The version to show first; null: the latest. */
  number: number | null;
  onBack: () => void;
  onOpenLink: (link: LineageLink) => void;
}

function Facts({ title, rows }: { title: string; rows: Row[] }): JSX.Element | null {
  if (!rows.length) {
    return null;
  }
  return (
    <section className="mllab-Section" aria-label={title}>
      <h4>{title}</h4>
      <table className="mllab-Table">
        <tbody>
          {rows.map(row => (
            <tr key={row.key}>
              <th scope="row">{row.key}</th>
              <td>{row.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Lineage({ version, onOpenLink }: { version: Version; onOpenLink: Props['onOpenLink'] }): JSX.Element {
  const view = lineageOf(version);
  return (
    <section className="mllab-Section" aria-label={view.title}>
      <h4>{view.title}</h4>
      {view.links.length ? (
        <ul className="mllab-Links">
          {view.links.map(link => (
            <li key={link.ref}>
              {link.fullName ? (
                <button
                  type="button"
                  className="mllab-LinkButton"
                  aria-label={`Open ${link.kind === 'datasets' ? 'dataset' : 'model'} version ${link.ref}`}
                  onClick={() => onOpenLink(link)}
                >
                  {link.ref}
                </button>
              ) : (
                <span>{link.ref}</span>
              )}
            </li>
          ))}
        </ul>
      ) : (
        <p className="mllab-Muted">
          {version.kind === 'models' ? 'No dataset recorded.' : 'No model version records this one.'}
        </p>
      )}
    </section>
  );
}

export function ArtifactDetail({ lab, kind, fullName, number, onBack, onOpenLink }: Props): JSX.Element {
  const [artifact, setArtifact] = React.useState<Artifact | null>(null);
  const [versions, setVersions] = React.useState<Version[]>([]);
  const [selected, setSelected] = React.useState<number | null>(number);
  const [version, setVersion] = React.useState<Version | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [notice, setNotice] = React.useState<string>('');
  const noun = kind === 'datasets' ? 'dataset' : 'model';

  React.useEffect(() => {
    let live = true;
    Promise.all([lab.api.artifact(kind, fullName), lab.api.versions(kind, fullName)])
      .then(([a, v]) => {
        if (live) {
          setArtifact(a);
          setVersions(v);
          setSelected(current => current ?? a.latest);
        }
      })
      .catch(e => live && setError(describeError(e)));
    return () => {
      live = false;
    };
  }, [lab, kind, fullName]);

  React.useEffect(() => {
    if (selected === null) {
      return;
    }
    let live = true;
    setVersion(null);
    lab.api
      .version(kind, fullName, selected)
      .then(v => live && setVersion(v))
      .catch(e => live && setError(describeError(e)));
    return () => {
      live = false;
    };
  }, [lab, kind, fullName, selected]);

  const download = async (v: Version): Promise<void> => {
    const name = fullName.split('/').pop() ?? fullName;
    const path = PathExt.join(lab.currentFolder(), versionFolder(name, v.number));
    setError(null);
    try {
      await lab.transfers.start({ direction: 'pull', kind, ref: `${fullName}:${v.number}`, path });
      setNotice(`Downloading into ${path || '.'}…`);
    } catch (e) {
      setError(describeError(e));
    }
  };

  const copy = (v: Version): void => {
    Clipboard.copyToSystem(pythonSnippet(v));
    setNotice('Python snippet copied to the clipboard.');
  };

  // The detail replaces the list the focus was in: it takes the focus, so Escape reaches it.
  const root = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => root.current?.focus(), []);

  const facts = version ? versionFacts(version) : null;
  return (
    <div
      className="mllab-Detail"
      ref={root}
      tabIndex={-1}
      aria-label={`${noun} ${fullName}`}
      onKeyDown={event => {
        if (event.key === 'Escape') {
          event.stopPropagation();
          onBack();
        }
      }}
    >
      <button type="button" className="mllab-LinkButton mllab-Back" onClick={onBack}>
        ← All {kind}
      </button>
      <h3 className="mllab-Title">{fullName}</h3>
      {artifact?.description && <p className="mllab-Description">{artifact.description}</p>}
      <Alert message={error} />
      {artifact && Object.keys(artifact.aliases).length > 0 && (
        <p className="mllab-Aliases" aria-label="Aliases">
          {Object.entries(artifact.aliases).map(([alias, n]) => (
            <span key={alias} className="mllab-Chip" title={`${alias} points at version ${n}`}>
              {alias} → {n}
            </span>
          ))}
        </p>
      )}
      {versions.length > 0 && (
        <label className="mllab-Field">
          <span>Version</span>
          <select
            className="jp-mod-styled"
            value={selected ?? ''}
            onChange={event => setSelected(Number(event.target.value))}
          >
            {versions.map(v => (
              <option key={v.number} value={v.number}>
                {`${v.number}${v.aliases.length ? ` (${v.aliases.join(', ')})` : ''} · ${formatSize(v.size)}`}
              </option>
            ))}
          </select>
        </label>
      )}
      {artifact && artifact.latest === null && <p className="mllab-Muted">This {noun} has no version yet.</p>}
      {version && facts && (
        <div className="mllab-Version" data-version={version.number}>
          <p className="mllab-Muted">
            Version {version.number}: {version.file_count} file{version.file_count === 1 ? '' : 's'},{' '}
            {formatSize(version.size)}, made {formatTime(version.created_at)}
            {version.created_by ? ` by ${version.created_by}` : ''}.
          </p>
          <div className="mllab-Actions">
            <button type="button" className="jp-Button jp-mod-styled jp-mod-accept" onClick={() => void download(version)}>
              Download into current folder
            </button>
            <button type="button" className="jp-Button jp-mod-styled jp-mod-reject" onClick={() => copy(version)}>
              Copy Python snippet
            </button>
          </div>
          <div className="mllab-Notice" aria-live="polite">
            {notice}
          </div>
          <section className="mllab-Section" aria-label="Files">
            <h4>Files</h4>
            <table className="mllab-Table">
              <tbody>
                {(version.files ?? []).map(f => (
                  <tr key={f.path}>
                    <td className="mllab-Path">{f.path}</td>
                    <td className="mllab-Size">{formatSize(f.size)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <Lineage version={version} onOpenLink={onOpenLink} />
          <Facts title="Metrics" rows={facts.metrics} />
          <Facts title="Parameters" rows={facts.params} />
          <Facts title="Metadata" rows={facts.metadata} />
          <section className="mllab-Section" aria-label="Python snippet">
            <h4>Python</h4>
            <pre className="mllab-Code">{pythonSnippet(version)}</pre>
          </section>
        </div>
      )}
    </div>
  );
}
