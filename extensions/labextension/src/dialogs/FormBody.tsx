/** What the dialogs' forms share: the dialog body around a form, and the namespace field. */

import type { Dialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { namespaceLabel } from '../filter';
import type { Context } from '../types';

/** What every dialog form takes: the values to start from, and a callback for each change. */
export interface IFormProps<T> {
  initial: T;
  onChange: (values: T) => void;
}

/**
 * Renders `form` with `props`; `getValue` gives the values the form last reported, which is
 * what the dialog resolves with when accepted.
 */
export class FormBody<P extends IFormProps<any>> extends ReactWidget implements Dialog.IBodyWidget<P['initial']> {
  private values: P['initial'];

  constructor(
    private readonly form: (props: P) => JSX.Element,
    private readonly props: Omit<P, 'onChange'>
  ) {
    super();
    this.values = props.initial;
  }

  getValue(): P['initial'] {
    return this.values;
  }

  render(): JSX.Element {
    const Form = this.form;
    const props = { ...this.props, onChange: (values: P['initial']) => (this.values = values) } as P;
    return <Form {...props} />;
  }
}

/** A form's namespace field: one of the user's namespaces (theirs and their teams'). */
export function NamespaceField({
  context,
  value,
  onChange
}: {
  context: Context;
  value: string;
  onChange: (namespace: string) => void;
}): JSX.Element {
  return (
    <label className="mllab-Field">
      <span>Namespace</span>
      <select className="jp-mod-styled" name="namespace" value={value} onChange={e => onChange(e.target.value)}>
        {context.namespaces.map(ns => (
          <option key={ns} value={ns}>
            {namespaceLabel(ns, context.namespace)}
          </option>
        ))}
      </select>
    </label>
  );
}
