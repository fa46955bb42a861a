/**
 * "Push as dataset version…" and "Register as model version…": a dialog for the name, the
 * namespace and (models) the linked dataset versions and metrics, then a transfer whose
 * progress the panel of that kind shows.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import { Alert } from '../components/Alert';
import { describeError } from '../errors';
import { mergeArtifacts } from '../filter';
import type { Lab } from '../lab';
import { type DatasetChoice, datasetChoices, pushRequest, type PushValues } from '../push';
import { nameFromPath } from '../refs';
import type { Context, Kind } from '../types';
import { FormBody, type IFormProps, NamespaceField } from './FormBody';

interface FormProps extends IFormProps<PushValues> {
  kind: Kind;
  context: Context;
  choices: DatasetChoice[];
  problem: string | null;
}

function PushForm({ kind, context, choices, initial, problem, onChange }: FormProps): JSX.Element {
  const [values, setValues] = React.useState(initial);
  const set = (change: Partial<PushValues>): void => {
    const next = { ...values, ...change };
    setValues(next);
    onChange(next);
  };
  return (
    <div className="mllab-Form">
      <Alert message={problem} />
      <label className="mllab-Field">
        <span>Name</span>
        <input className="jp-mod-styled" name="name" value={values.name} onChange={e => set({ name: e.target.value })} />
      </label>
      <NamespaceField context={context} value={values.namespace} onChange={namespace => set({ namespace })} />
      <label className="mllab-Field">
        <span>Description (optional)</span>
        <input
          className="jp-mod-styled"
          name="description"
          value={values.description}
          onChange={e => set({ description: e.target.value })}
        />
      </label>
      {kind === 'models' && (
        <>
          <fieldset className="mllab-Field mllab-Checks">
            <legend>Trained on (dataset versions)</legend>
            {choices.length ? (
              choices.map(choice => (
                <label key={choice.ref} className="mllab-Check">
                  <input
                    type="checkbox"
                    value={choice.ref}
                    checked={values.datasets.includes(choice.ref)}
                    onChange={e =>
                      set({
                        datasets: e.target.checked
                          ? [...values.datasets, choice.ref]
                          : values.datasets.filter(ref => ref !== choice.ref)
                      })
                    }
                  />
                  <span>{choice.label}</span>
                </label>
              ))
            ) : (
              <p className="mllab-Muted">No dataset in your namespaces yet.</p>
            )}
          </fieldset>
          <label className="mllab-Field">
            <span>Metrics (key=value, comma separated)</span>
            <input
              className="jp-mod-styled"
              name="metrics"
              placeholder="accuracy=0.93, f1=0.9"
              value={values.metrics}
              onChange={e => set({ metrics: e.target.value })}
            />
          </label>
        </>
      )}
    </div>
  );
}

/**
 * Ask how to push `path` (a file or folder relative to the server's root) and start the
 * transfer; the dialog comes back with the reason while the values or the server refuse.
 * Resolves true once a transfer started.
 */
export async function pushDialog(lab: Lab, kind: Kind, path: string): Promise<boolean> {
  const context = await lab.context();
  const choices =
    kind === 'models'
      ? datasetChoices(mergeArtifacts(await Promise.all(context.namespaces.map(ns => lab.api.artifacts('datasets', ns)))))
      : [];
  let values: PushValues = {
    name: nameFromPath(path),
    namespace: context.namespace,
    description: '',
    datasets: [],
    metrics: ''
  };
  let problem: string | null = null;
  const shown = path || 'the root folder';
  for (;;) {
    const result = await showDialog({
      title: kind === 'datasets' ? `Push ${shown} as a dataset version` : `Register ${shown} as a model version`,
      body: new FormBody(PushForm, { kind, context, choices, initial: values, problem }),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: kind === 'datasets' ? 'Push' : 'Register' })],
      focusNodeSelector: 'input[name=name]'
    });
    if (!result.button.accept || !result.value) {
      return false;
    }
    values = result.value;
    const request = pushRequest(kind, path, values);
    if (typeof request === 'string') {
      problem = request;
      continue;
    }
    try {
      await lab.transfers.start(request);
      return true;
    } catch (error) {
      problem = describeError(error);
    }
  }
}
