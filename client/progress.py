"""Byte counters for transfers: thread-safe, optionally drawn as a tqdm bar on stderr."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from tqdm import tqdm

Callback = Callable[[int], None]


class Meter:
    """Counts bytes from many threads; draws a bar when ``show`` (None: only on a terminal).

    ``callback`` (if given) hears each step too; an exception it raises stops the transfer,
    which is how callers (and tests) interrupt one.
    """

    def __init__(self, desc: str, total: int, show: bool | None = None, callback: Callback | None = None) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._callback = callback
        disable = not sys.stderr.isatty() if show is None else not show
        self._bar = tqdm(
            desc=desc, total=total, unit="B", unit_scale=True, unit_divisor=1024, disable=disable, file=sys.stderr,
            leave=False, dynamic_ncols=True,
        )

    def __call__(self, n: int) -> None:
        with self._lock:
            self.count += n
            self._bar.update(n)
        if self._callback:
            self._callback(n)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
