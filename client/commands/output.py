"""How the CLI shows things: JSON for scripts, short tables and lines for people."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def emit(as_json: bool, data: Any, text: str) -> None:
    """A verb's answer: ``data`` as JSON for scripts, else the line ``text`` for people."""
    if as_json:
        emit_json(data)
    else:
        print(text)


def human_size(n: int | None) -> str:
    size = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def short_time(value: str | None) -> str:
    # ISO 8601 from the registry; minutes are plenty in a table.
    return (value or "")[:16].replace("T", " ")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns padded to their widest cell; the last column is left ragged."""
    cells = [[str(c) for c in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths[:-1], strict=True))
        print(f"{line}  {row[-1]}".rstrip() if len(row) > 1 else row[0])


def fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """``label: value`` lines, labels aligned; empty values left out."""
    shown = [(k, v) for k, v in pairs if v not in (None, "", [], {})]
    width = max((len(k) for k, _ in shown), default=0)
    for key, value in shown:
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        print(f"{key + ':':<{width + 1}} {value}")


def listing(items: Sequence[Any], as_json: bool, headers: Sequence[str], row: Callable[[Any], Sequence[Any]],
            empty: str | None = None) -> None:
    """A list verb's answer: ``items`` as JSON, else a table of ``row(item)``; ``empty`` (on stderr) for none."""
    if as_json:
        emit_json(items)
    elif not items and empty:
        print(empty, file=sys.stderr)
    else:
        table(headers, [row(item) for item in items])


def display_options(json_output: bool = True, quiet: str = "no progress line") -> argparse.ArgumentParser:
    """A parent parser of how a verb shows things: ``--json`` (unless not ``json_output``) and ``-q``."""
    parent = argparse.ArgumentParser(add_help=False)
    if json_output:
        parent.add_argument("--json", action="store_true", help="print JSON (for scripts) instead of text")
    parent.add_argument("-q", "--quiet", action="store_true", help=quiet)
    return parent
