"""Byte counters for transfers: thread-safe, drawn as a tqdm bar on stderr, heard by a Listener if given."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from tqdm import tqdm

Callback = Callable[[int], None]


class Listener:
    """Follows a push or pull from the threads doing it, e.g. to show its progress elsewhere than a terminal.

    Override the methods needed; an exception one raises stops the transfer (which can then be resumed).
    """

    def planned(self, bytes_total: int, files_total: int, files_done: int) -> None:
        """What must move is known: ``bytes_total`` bytes; ``files_done`` of ``files_total`` files need nothing."""

    def moved(self, n: int) -> None:
        """``n`` more bytes were sent or received."""

    def files_moved(self, n: int) -> None:
        """``n`` more files are complete where they go."""


class Meter:
    """Counts bytes from many threads; draws a bar when ``show`` (None: only on a terminal).

    ``callback`` (if given) hears each step too; an exception it raises stops the transfer,
    which is how callers (and tests) interrupt one. ``listener`` hears the plan, the bytes and the files.
    """

    def __init__(self, desc: str, total: int, show: bool | None = None, callback: Callback | None = None,
                 listener: Listener | None = None) -> None:
        self.count = 0
        self.total = total
        self._lock = threading.Lock()
        self._callback = callback
        self._listener = listener
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
        if self._listener:
            self._listener.moved(n)

    def plan(self, files_total: int, files_done: int) -> None:
        """Tell the listener what this transfer moves: its bytes (``total``) and files."""
        if self._listener:
            self._listener.planned(self.total, files_total, files_done)

    def files_moved(self, n: int) -> None:
        if self._listener and n:
            self._listener.files_moved(n)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
