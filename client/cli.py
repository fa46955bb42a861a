"""The ``mllab`` command.

``mllab up`` runs the platform (hub side); every other verb talks to a running hub.
"""

from __future__ import annotations

import logging
import os
import sys
from importlib.metadata import version

#: The verbs that talk to a running hub (``mllab.client.commands.COMMANDS``; kept here so that
#: ``mllab up`` and ``--version`` import no client code).
CLIENT_COMMANDS = ("datasets", "models", "deploy", "deployments", "predict", "jobs", "ssh", "doctor")


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
    if argv[:1] and argv[0] in CLIENT_COMMANDS:
        sys.exit(run_client_command(argv))
    print(
        "usage: mllab <command> [options]\n\n"
        "commands:\n"
        "  up           run ML Lab Hub on this machine (mllab up --help)\n"
        "  datasets     push, pull and manage datasets (mllab datasets --help)\n"
        "  models       register, pull and manage models (mllab models --help)\n"
        "  deploy       serve a registered model, or run a service (mllab deploy --help)\n"
        "  deployments  list and operate deployments (mllab deployments --help)\n"
        "  predict      send a JSON payload to a deployed model (mllab predict --help)\n"
        "  jobs         run programs to completion, now or on a schedule (mllab jobs --help)\n"
        "  ssh          SSH into a workspace through the hub; manage SSH keys (mllab ssh --help)\n"
        "  doctor       check a running platform, one line per part, with the fix (mllab doctor --help)\n",
        file=sys.stderr,
    )
    sys.exit(0 if argv[:1] in (["-h"], ["--help"]) else 2)


def run_client_command(argv: list[str]) -> int:
    """Run a client command (``mllab datasets|models|deploy|...``); errors are one line on stderr and exit 1.

    ``MLLAB_DEBUG=1`` logs every request and shows tracebacks.
    """
    from .client import Client
    from .commands import build_parser
    from .errors import MLLabError
    from .transfer import Interrupted

    debug = os.environ.get("MLLAB_DEBUG", "") not in ("", "0")
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="mllab: %(message)s")
    # urllib3 narrates its connection retries; the one-line error at the end says what matters.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if debug else logging.ERROR)
    args = build_parser().parse_args(argv)
    if hasattr(args, "prepare"):
        args.prepare(args)
    try:
        with Client(workers=args.workers) as client:
            args.run(getattr(client, getattr(args, "api", None) or args.command), args)
    except (KeyboardInterrupt, Interrupted):
        print("mllab: interrupted; run the same command again to resume.", file=sys.stderr)
        return 130
    except MLLabError as e:
        if debug:
            raise
        print(f"mllab: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        if debug:
            raise
        print(f"mllab: unexpected error: {type(e).__name__}: {e} (MLLAB_DEBUG=1 shows details)", file=sys.stderr)
        return 1
    return 0
