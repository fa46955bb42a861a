"""Secrets generated on first start and kept in the data dir, readable by the owner only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def kept_secret(path: Path, nbytes: int = 32) -> tuple[str, bool]:
    """The secret stored at ``path``, generating it (mode 0600) when absent.

    Returns the secret and whether it was generated now.
    """
    if path.exists():
        return path.read_text().strip(), False
    value = secrets.token_hex(nbytes)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two hubs started at once on one data dir must not overwrite each other's.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value, True



def main(argv: list[str] | None = None) -> None:
    """``python -m mllab.hub.secrets DIR NAME...``: generate each missing secret ``DIR/NAME`` (0600).

    The compose file's one-shot ``secrets`` service runs it on every start: the first start
    generates the database and MinIO passwords, later ones keep them.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mllab.hub.secrets", description=main.__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of the secrets (made 0700 when missing)")
    parser.add_argument("names", nargs="+", help="file names of the secrets")
    args = parser.parse_args(argv)
    args.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in args.names:
        _, generated = kept_secret(args.folder / name)
        print(f"{'generated' if generated else 'kept'} {args.folder / name}")


if __name__ == "__main__":
    main()
