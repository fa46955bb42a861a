/** What the panels, dialogs and commands share: the API, transfers, the user's context, the file browser. */

import type { CommandRegistry } from '@lumino/commands';

import type { LabApi } from './api';
import type { Transfers } from './transfers';
import type { Context, Kind } from './types';

export interface Lab {
  api: LabApi;
  transfers: Transfers;
  commands: CommandRegistry;
  /** Who the user is and which namespaces they work in (asked once, then kept). */
  context(): Promise<Context>;
  /** The folder the file browser shows, relative to the server's root. */
  currentFolder(): string;
  /** Show what a download put in the file browser. */
  refreshFiles(): Promise<void>;
}

/** Commands the panels call, and their arguments. */
export const CommandIDs = {
  openArtifact: 'mllab:open-artifact',
  pushDataset: 'mllab:push-dataset',
  registerModel: 'mllab:register-model',
  deploy: 'mllab:deploy'
} as const;

export interface OpenArtifactArgs {
  kind: Kind;
  fullName: string;
  number?: number | null;
}
