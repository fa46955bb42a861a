/** React glue for Lumino signals. */

import type { ISignal } from '@lumino/signaling';
import { useEffect, useRef } from 'react';

/** Call `handler` on each emission of `signal` while the component is mounted (the latest handler). */
export function useSignal<T, U>(signal: ISignal<T, U>, handler: (sender: T, args: U) => void): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const slot = (sender: T, args: U): void => latest.current(sender, args);
    signal.connect(slot);
    return () => {
      signal.disconnect(slot);
    };
  }, [signal]);
}
