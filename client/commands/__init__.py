"""The ``mllab`` verbs that talk to a running hub: ``mllab datasets ...``, ``mllab models ...``."""

from __future__ import annotations

import argparse

from .artifacts import add_kind

KINDS = ("datasets", "models")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mllab",
        description="ML Lab Hub. Talks to the hub at $MLLAB_URL with $MLLAB_TOKEN (or, inside a workspace, "
        "$JUPYTERHUB_API_URL with $JUPYTERHUB_API_TOKEN).",
    )
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for kind in KINDS:
        add_kind(commands, kind)
    return parser
