/** The ⟳ button of a list's toolbar: loads `what` again. */

import * as React from 'react';

export function RefreshButton({ what, onRefresh }: { what: string; onRefresh: () => void }): JSX.Element {
  return (
    <button
      type="button"
      className="jp-Button jp-mod-styled jp-mod-reject mllab-Refresh"
      aria-label={`Refresh the ${what}`}
      title="Refresh"
      onClick={onRefresh}
    >
      ⟳
    </button>
  );
}
