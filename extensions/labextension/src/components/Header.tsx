/** A panel's heading: its icon and its name. */

import type { LabIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

export function Header({ icon, label }: { icon: LabIcon; label: string }): JSX.Element {
  return (
    <header className="mllab-Header">
      <icon.react tag="span" className="mllab-Header-icon" />
      <h2>{label}</h2>
    </header>
  );
}
