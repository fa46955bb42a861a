/** "Deploy a model version": pick a model, a version or alias, a name and a namespace. */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import { Alert } from '../components/Alert';
import { checkDeploymentName, deploymentName } from '../deploy';
import { describeError } from '../errors';
import { mergeArtifacts } from '../filter';
import type { Lab } from '../lab';
import { formatRef } from '../refs';
import type { Artifact, Context, Deployment, Version } from '../types';
import { FormBody, type IFormProps, NamespaceField } from './FormBody';

interface DeployValues {
  model: string;
  version: string;
  name: string;
  namespace: string;
}

interface FormProps extends IFormProps<DeployValues> {
  lab: Lab;
  context: Context;
  models: Artifact[];
  problem: string | null;
}

/** The versions of a model to choose from: its aliases first, then every number. */
function versionOptions(model: Artifact | undefined, versions: Version[]): { value: string; label: string }[] {
  if (!model) {
    return [];
  }
  const aliases = Object.entries(model.aliases)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([alias, number]) => ({ value: alias, label: `@${alias} (now version ${number})` }));
  return [...aliases, ...versions.map(v => ({ value: String(v.number), label: `version ${v.number}` }))];
}

function DeployForm({ lab, context, models, initial, problem, onChange }: FormProps): JSX.Element {
  const [values, setValues] = React.useState(initial);
  const [versions, setVersions] = React.useState<Version[]>([]);
  const set = (change: Partial<DeployValues>): void => {
    const next = { ...values, ...change };
    setValues(next);
    onChange(next);
  };
  React.useEffect(() => {
    let live = true;
    setVersions([]);
    if (values.model) {
      lab.api
        .versions('models', values.model)
        .then(v => live && setVersions(v))
        .catch(() => live && setVersions([])); // the aliases still offer the latest
    }
    return () => {
      live = false;
    };
  }, [lab, values.model]);
  const model = models.find(m => m.full_name === values.model);
  return (
    <div className="mllab-Form">
      <Alert message={problem} />
      <label className="mllab-Field">
        <span>Model</span>
        <select
          className="jp-mod-styled"
          name="model"
          value={values.model}
          onChange={e => {
            const chosen = models.find(m => m.full_name === e.target.value);
            set({
              model: e.target.value,
              version: 'latest',
              name: deploymentName(chosen?.name ?? ''),
              namespace: chosen && context.namespaces.includes(chosen.namespace) ? chosen.namespace : context.namespace
            });
          }}
        >
          {models.map(m => (
            <option key={m.full_name} value={m.full_name}>
              {m.full_name}
            </option>
          ))}
        </select>
      </label>
      <label className="mllab-Field">
        <span>Version or alias</span>
        <select className="jp-mod-styled" name="version" value={values.version} onChange={e => set({ version: e.target.value })}>
          {versionOptions(model, versions).map(option => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      </label>
      <label className="mllab-Field">
        <span>Deployment name</span>
        <input className="jp-mod-styled" name="name" value={values.name} onChange={e => set({ name: e.target.value })} />
      </label>
      <NamespaceField context={context} value={values.namespace} onChange={namespace => set({ namespace })} />
    </div>
  );
}

/** Ask what to deploy and create the deployment; resolves it, or null when cancelled. */
export async function deployDialog(lab: Lab): Promise<Deployment | null> {
  const context = await lab.context();
  const models = mergeArtifacts(await Promise.all(context.namespaces.map(ns => lab.api.artifacts('models', ns))))
    .filter(m => m.latest !== null)
    .sort((a, b) => a.full_name.localeCompare(b.full_name));
  if (!models.length) {
    await showDialog({
      title: 'No model to deploy',
      body: 'Register a model first: right-click its folder in the file browser, "Register as model version…".',
      buttons: [Dialog.okButton()]
    });
    return null;
  }
  const first = models[0];
  let values: DeployValues = {
    model: first.full_name,
    version: 'latest',
    name: deploymentName(first.name),
    namespace: context.namespaces.includes(first.namespace) ? first.namespace : context.namespace
  };
  let problem: string | null = null;
  for (;;) {
    const result = await showDialog({
      title: 'Deploy a model version',
      body: new FormBody(DeployForm, { lab, context, models, initial: values, problem }),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Deploy' })],
      focusNodeSelector: 'select[name=model]'
    });
    if (!result.button.accept || !result.value) {
      return null;
    }
    values = result.value;
    problem = checkDeploymentName(values.name.trim());
    if (problem) {
      continue;
    }
    try {
      return await lab.api.deploy({
        model: formatRef(values.model, values.version),
        name: values.name.trim(),
        namespace: values.namespace
      });
    } catch (error) {
      problem = describeError(error);
    }
  }
}
