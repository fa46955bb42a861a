/** A service's error where it happened, read out by screen readers (`role="alert"`); nothing without one. */

import * as React from 'react';

export function Alert({ message }: { message: string | null }): JSX.Element | null {
  return message ? (
    <div className="mllab-Error" role="alert">
      {message}
    </div>
  ) : null;
}
