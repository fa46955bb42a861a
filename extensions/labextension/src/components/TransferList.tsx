/** Transfers of one kind with a progress bar each; ended ones stay until dismissed. */

import * as React from 'react';

import { transferFraction, transferSummary } from '../format';
import type { Lab } from '../lab';
import type { Kind, Transfer } from '../types';
import { useSignal } from './hooks';

function TransferItem({ transfer, onDismiss }: { transfer: Transfer; onDismiss: () => void }): JSX.Element {
  const fraction = transferFraction(transfer);
  const summary = transferSummary(transfer);
  return (
    <li className={`mllab-Transfer mllab-mod-${transfer.state}`} data-state={transfer.state}>
      <div className="mllab-Transfer-summary" role={transfer.state === 'failed' ? 'alert' : undefined}>
        {summary}
      </div>
      {transfer.state === 'running' && (
        <progress
          className="mllab-Transfer-bar"
          aria-label={`Progress of ${transfer.direction === 'push' ? 'pushing' : 'downloading'} ${transfer.path || '.'}`}
          max={1}
          // Without a value the bar shows that the size is not known yet.
          value={fraction ?? undefined}
        />
      )}
      {transfer.state !== 'running' && (
        <button type="button" className="mllab-LinkButton" aria-label={`Dismiss: ${summary}`} onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </li>
  );
}

export function TransferList({ lab, kind }: { lab: Lab; kind: Kind }): JSX.Element | null {
  const [transfers, setTransfers] = React.useState(() => lab.transfers.all);
  useSignal(lab.transfers.changed, () => setTransfers(lab.transfers.all));
  const mine = transfers.filter(t => t.kind === kind);
  if (!mine.length) {
    return null;
  }
  return (
    <ul className="mllab-Transfers" aria-label="Transfers" aria-live="polite">
      {mine.map(t => (
        <TransferItem key={t.id} transfer={t} onDismiss={() => lab.transfers.dismiss(t.id)} />
      ))}
    </ul>
  );
}
