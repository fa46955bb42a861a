/**
 * Transfers in flight: started through the server extension, then polled until they end. The
 * panels draw their progress from `changed`; `finished` tells them to show the new version.
 */

import { Signal } from '@lumino/signaling';

import type { LabApi } from './api';
import { describeError } from './errors';
import type { Transfer, TransferRequest } from './types';

/** How often a running transfer is asked how far it got (milliseconds). */
const POLL_INTERVAL = 500;

export class Transfers {
  /** Emitted on every change of a transfer (progress, end, dismissal). */
  readonly changed = new Signal<Transfers, void>(this);
  /** Emitted once when a transfer ends, done or failed. */
  readonly finished = new Signal<Transfers, Transfer>(this);

  private readonly items = new Map<string, Transfer>();

  constructor(private readonly api: LabApi) {}

  /** The transfers of this session, newest first. */
  get all(): Transfer[] {
    return [...this.items.values()].reverse();
  }

  /** Start a transfer; resolves once the server accepted it (its progress follows in `changed`). */
  async start(request: TransferRequest): Promise<Transfer> {
    const transfer = await this.api.startTransfer(request);
    this.update(transfer);
    void this.follow(transfer);
    return transfer;
  }

  dismiss(id: string): void {
    if (this.items.delete(id)) {
      this.changed.emit();
    }
  }

  private update(transfer: Transfer): void {
    this.items.set(transfer.id, transfer);
    this.changed.emit();
  }

  private async follow(transfer: Transfer): Promise<void> {
    let current = transfer;
    while (current.state === 'running') {
      await new Promise(resolve => setTimeout(resolve, POLL_INTERVAL));
      try {
        current = await this.api.transfer(current.id);
      } catch (error) {
        current = { ...current, state: 'failed', error: `Lost track of the transfer: ${describeError(error)}` };
      }
      if (!this.items.has(current.id)) {
        return; // dismissed by the user meanwhile
      }
      this.update(current);
    }
    this.finished.emit(current);
  }
}
