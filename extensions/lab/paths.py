"""Paths the front end names, confined to the Jupyter server's root dir.

The browser sends paths as its file browser shows them (relative to the server's root dir);
a transfer reads or writes only there, so a request cannot make the server push ``/etc`` or
pull into another user's files.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath


class PathError(ValueError):
    """A path the transfer must not touch; ``str()`` says why, for the person who typed it."""


def confine(root: str | Path, relative: object) -> Path:
    """``relative`` (POSIX, as the file browser writes it) under ``root``, resolved; PathError if it leaves ``root``.

    ``""`` and ``"."`` are the root itself. Absolute paths and ``..`` segments are refused as
    written; a symbolic link is followed and refused if where it leads is outside ``root``.
    The path need not exist.
    """
    if not isinstance(relative, str):
        raise PathError("path must be a string: a file or folder relative to the workspace's root folder.")
    if "\x00" in relative:
        raise PathError(f"path {relative!r} contains a NUL character.")
    posix = PurePosixPath(relative)
    if posix.is_absolute():
        raise PathError(f"path {relative!r} is absolute; give it relative to the workspace's root folder, "
                        "as the file browser shows it.")
    if ".." in posix.parts:
        raise PathError(f"path {relative!r} goes up with '..'; only files under the workspace's root folder "
                        "can be transferred.")
    target = Path(root).joinpath(*posix.parts)
    if not is_inside(root, target):
        raise PathError(f"path {relative!r} leads outside the workspace's root folder (through a symbolic link).")
    return target.resolve()


def is_inside(root: str | Path, path: Path) -> bool:
    """Whether ``path``, with its links followed, lies under ``root``."""
    base = Path(root).resolve()
    resolved = path.resolve()
    return resolved == base or base in resolved.parents
