/** How sizes, times and transfer progress read in the panels. */

import type { Transfer } from './types';

const UNITS = ['KB', 'MB', 'GB', 'TB', 'PB'];

/** Bytes in decimal units with three significant digits: `0 B`, `999 B`, `1.5 KB`, `12.3 MB`. */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) {
    return '?';
  }
  if (bytes < 1000) {
    return `${Math.round(bytes)} B`;
  }
  let value = bytes;
  let unit = -1;
  while (value >= 999.5 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${Number(value.toFixed(digits))} ${UNITS[unit]}`;
}

/** An ISO time as the browser's local date and time, to the minute; the text itself if unreadable. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A transfer's progress as a fraction in [0, 1] (by bytes, else by files); null while unknown. */
export function transferFraction(transfer: Transfer): number | null {
  if (transfer.state === 'done') {
    return 1;
  }
  if (transfer.bytes_total > 0) {
    return Math.min(1, transfer.bytes_done / transfer.bytes_total);
  }
  if (transfer.files_total > 0) {
    return Math.min(1, transfer.files_done / transfer.files_total);
  }
  return null;
}

/** One line on a transfer: what, where, how far. */
export function transferSummary(transfer: Transfer): string {
  const what =
    transfer.direction === 'push'
      ? `${transfer.path || '.'} → ${transfer.ref ?? transfer.kind}`
      : `${transfer.ref ?? transfer.kind} → ${transfer.path || '.'}`;
  if (transfer.state === 'failed') {
    return `${what}: failed. ${transfer.error ?? ''}`.trim();
  }
  if (transfer.state === 'done') {
    const ref = transfer.version ? `${transfer.version.artifact}:${transfer.version.number}` : transfer.ref;
    return transfer.direction === 'push' ? `${transfer.path || '.'} → ${ref}: done` : `${what}: done`;
  }
  const bytes =
    transfer.bytes_total > 0
      ? `${formatSize(transfer.bytes_done)} of ${formatSize(transfer.bytes_total)}`
      : 'preparing';
  const files = transfer.files_total > 0 ? `, ${transfer.files_done} of ${transfer.files_total} files` : '';
  return `${what}: ${bytes}${files}`;
}
