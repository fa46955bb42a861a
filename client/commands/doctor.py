"""``mllab doctor``: check a running platform, one line per part, with the fix for what is wrong."""

from __future__ import annotations

import argparse

from ..config import Settings
from ..doctor import diagnose
from ..errors import MLLabError

DESCRIPTION = """Check the platform at $MLLAB_URL (or, inside a workspace, the one it runs on): the proxy,
the hub's API and your token, then each service (registry, deployments) with what it depends on: its
database, the artifact store, the runtime engine. One line each, ok or FAIL with the fix; exit status 1
when something failed."""


def add_doctor(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("doctor", help="check a running platform: proxy, hub, services, database, "
                                 "storage, runtime", description=DESCRIPTION)
    parser.set_defaults(run=run_doctor, api="settings", workers=1)


def run_doctor(settings: Settings, args: argparse.Namespace) -> None:
    checks = []
    for check in diagnose(settings):
        print(check.line(), flush=True)
        checks.append(check)
    failed = sum(not check.ok for check in checks)
    if failed:
        raise MLLabError(f"{failed} of {len(checks)} checks failed; each FAIL line says what to do.")
