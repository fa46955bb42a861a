"""The ``mllab`` verbs that talk to a running hub: ``datasets``, ``models``, ``deploy``, ``deployments``,
``predict``, ``jobs``, ``ssh`` and ``doctor``.

Each verb's parser sets ``run(api, args)``; ``api`` is the client's attribute named by the ``api``
default where a verb sets one (``deploy`` and ``predict`` work on ``client.deployments``), else by
the command (``client.datasets``, ``client.jobs``, ...).
"""

from __future__ import annotations

import argparse

from .artifacts import add_kind
from .deployments import CheckedParser, add_deploy, add_deployments, add_predict
from .doctor import add_doctor
from .jobs import add_jobs
from .ssh import add_ssh

KINDS = ("datasets", "models")
#: Every command of the parser (``mllab <command>``), for the launcher to hand them here.
COMMANDS = (*KINDS, "deploy", "deployments", "predict", "jobs", "ssh", "doctor")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mllab",
        description="ML Lab Hub. Talks to the hub at $MLLAB_URL with $MLLAB_TOKEN (or, inside a workspace, "
        "$JUPYTERHUB_API_URL with $JUPYTERHUB_API_TOKEN).",
    )
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True,
                                     parser_class=CheckedParser)
    for kind in KINDS:
        add_kind(commands, kind)
    add_deploy(commands)
    add_deployments(commands)
    add_predict(commands)
    add_jobs(commands)
    add_ssh(commands)
    add_doctor(commands)
    return parser
