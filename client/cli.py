"""The ``mllab`` command.

``mllab up`` runs the platform (hub side); every other verb talks to a running hub.
"""

from __future__ import annotations

import sys
from importlib.metadata import version


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["up"]:
        # Imported here: the hub side is not needed to talk to a hub.
        from mllab.hub.app import main as up

        up(argv[1:])
        return
    if argv[:1] in (["--version"], ["-V"]):
        print(f"mllab {version('mllab')}")
        return
    print(
        "usage: mllab <command> [options]\n\n"
        "commands:\n"
        "  up        run ML Lab Hub on this machine (mllab up --help)\n",
        file=sys.stderr,
    )
    sys.exit(0 if argv[:1] in (["-h"], ["--help"]) else 2)
