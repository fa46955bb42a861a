/** The namespace filter of the panels: all of the user's namespaces, or one. */

import * as React from 'react';

import { ALL_NAMESPACES, namespaceLabel } from '../filter';
import type { Context } from '../types';

interface Props {
  context: Context | null;
  value: string;
  onChange: (namespace: string) => void;
}

export function NamespaceSelect({ context, value, onChange }: Props): JSX.Element {
  return (
    <select
      className="jp-mod-styled mllab-Namespace"
      aria-label="Namespace"
      value={value}
      onChange={event => onChange(event.target.value)}
    >
      <option value={ALL_NAMESPACES}>All namespaces</option>
      {(context?.namespaces ?? []).map(ns => (
        <option key={ns} value={ns}>
          {namespaceLabel(ns, context?.namespace ?? '')}
        </option>
      ))}
    </select>
  );
}
