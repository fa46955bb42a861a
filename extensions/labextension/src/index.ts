/**
 * @mllab/jupyterlab: the Datasets, Models and Deployments side panels, and the file browser's
 * "Push as dataset version…" / "Register as model version…" menu items. Everything goes
 * through the workspace's server extension (`mllab/api/...`).
 */

import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { IDefaultFileBrowser, IFileBrowserFactory } from '@jupyterlab/filebrowser';
import type { Widget } from '@lumino/widgets';

import { LabApi } from './api';
import { ArtifactsPanel } from './components/ArtifactsPanel';
import { DeploymentsPanel } from './components/DeploymentsPanel';
import { pushDialog } from './dialogs/PushDialog';
import { describeError } from './errors';
import { transferSummary } from './format';
import { datasetsIcon, deploymentsIcon, modelsIcon } from './icons';
import { CommandIDs, type Lab, type OpenArtifactArgs } from './lab';
import { Transfers } from './transfers';
import type { Context, Kind } from './types';

function sidePanel(widget: Widget, id: string, label: string, icon: typeof datasetsIcon): Widget {
  widget.id = id;
  widget.title.icon = icon;
  widget.title.label = label;
  widget.title.caption = label;
  return widget;
}

function activate(
  app: JupyterFrontEnd,
  defaultBrowser: IDefaultFileBrowser,
  factory: IFileBrowserFactory,
  restorer: ILayoutRestorer | null,
  palette: ICommandPalette | null
): void {
  const api = new LabApi(app.serviceManager.serverSettings);
  const transfers = new Transfers(api);
  let context: Promise<Context> | null = null;
  const lab: Lab = {
    api,
    transfers,
    commands: app.commands,
    context: () => {
      // Asked once; a failure is not kept, so a later look tries again.
      context ??= api.context().catch(error => {
        context = null;
        throw error;
      });
      return context;
    },
    currentFolder: () => defaultBrowser.model.path,
    refreshFiles: () => defaultBrowser.model.refresh()
  };

  const artifacts: Record<Kind, ArtifactsPanel> = {
    datasets: new ArtifactsPanel(lab, 'datasets'),
    models: new ArtifactsPanel(lab, 'models')
  };
  const panels: [Widget, string, string, typeof datasetsIcon][] = [
    [artifacts.datasets, 'mllab-datasets', 'Datasets', datasetsIcon],
    [artifacts.models, 'mllab-models', 'Models', modelsIcon],
    [new DeploymentsPanel(lab), 'mllab-deployments', 'Deployments', deploymentsIcon]
  ];
  panels.forEach(([widget, id, label, icon], index) => {
    app.shell.add(sidePanel(widget, id, label, icon), 'left', { rank: 400 + index * 10 });
    restorer?.add(widget, id);
    const command = `mllab:show-${id.replace('mllab-', '')}`;
    app.commands.addCommand(command, {
      label: `Show ${label}`,
      caption: `Open the ${label} panel`,
      execute: async () => {
        // Run from the command palette, this comes before the palette hands the focus back to
        // the main area: the panel is activated (and focused) after that.
        await new Promise(resolve => requestAnimationFrame(resolve));
        app.shell.activateById(id);
      }
    });
    palette?.addItem({ command, category: 'ML Lab' });
  });

  transfers.finished.connect((_, transfer) => {
    if (transfer.state === 'failed') {
      Notification.error(transferSummary(transfer), { autoClose: false });
      return;
    }
    Notification.success(transferSummary(transfer), { autoClose: 5000 });
    if (transfer.direction === 'pull') {
      void lab.refreshFiles();
    }
  });

  app.commands.addCommand(CommandIDs.openArtifact, {
    label: 'Open in the ML Lab panel',
    execute: args => {
      const open = args as unknown as OpenArtifactArgs;
      const panel = artifacts[open.kind];
      panel.open(open);
      app.shell.activateById(panel.id);
    }
  });

  const push = (kind: Kind): void => {
    const browser = factory.tracker.currentWidget ?? defaultBrowser;
    const item = browser.selectedItems().next().value;
    if (!item) {
      return;
    }
    pushDialog(lab, kind, item.path)
      .then(started => {
        if (started) {
          app.shell.activateById(artifacts[kind].id); // where its progress shows
        }
      })
      .catch(error => Notification.error(describeError(error), { autoClose: false }));
  };
  app.commands.addCommand(CommandIDs.pushDataset, {
    label: 'Push as dataset version…',
    icon: datasetsIcon,
    execute: () => push('datasets')
  });
  app.commands.addCommand(CommandIDs.registerModel, {
    label: 'Register as model version…',
    icon: modelsIcon,
    execute: () => push('models')
  });
  for (const [command, rank] of [
    [CommandIDs.pushDataset, 60],
    [CommandIDs.registerModel, 61]
  ] as const) {
    app.contextMenu.addItem({ command, selector: '.jp-DirListing-item[data-isdir]', rank });
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@mllab/jupyterlab:plugin',
  description: "ML Lab Hub's datasets, models and deployments in JupyterLab.",
  autoStart: true,
  requires: [IDefaultFileBrowser, IFileBrowserFactory],
  optional: [ILayoutRestorer, ICommandPalette],
  activate
};

export default plugin;
