"""``mllab ssh``: log into a workspace, be ssh's ProxyCommand, print an ssh config, manage keys."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from ..errors import MLLabError
from ..http import HubSession
from ..ssh import DEFAULT_LOGIN, SSHKeys, Target, bridge, config_block, connect, ssh_arguments
from .output import emit_json, table

USAGE = """mllab ssh [-l LOGIN] [USER[/SERVER]] [-- SSH-OPTIONS ...]
       mllab ssh --stdio USER[/SERVER]|mllab-USER[--SERVER]
       mllab ssh --config [-l LOGIN] [USER[/SERVER] ...]
       mllab ssh keys add FILE|- | list | remove FINGERPRINT|COMMENT  [-w USER[/SERVER]]"""

DESCRIPTION = """SSH into a workspace through the hub: no port of the workspace is open, the hub token opens
the websocket to the workspace's sshd and one of your keys opens sshd. Add a key first
(mllab ssh keys add ~/.ssh/id_ed25519.pub, with the workspace running), then `mllab ssh` logs you
into your own workspace. In ~/.ssh/config (mllab ssh --config prints it), ProxyCommand
"mllab ssh --stdio %n" makes ssh, scp, rsync and VS Code Remote-SSH work with host mllab-<user>."""


def add_ssh(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("ssh", help="SSH into a workspace through the hub; manage your SSH keys",
                                 usage=USAGE, description=DESCRIPTION)
    parser.add_argument("target", nargs="?", metavar="USER[/SERVER]",
                        help="whose workspace (default: your own), or `keys` to manage keys")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--stdio", action="store_true",
                      help="bridge stdin/stdout to the workspace's sshd (for ssh's ProxyCommand)")
    mode.add_argument("--config", action="store_true", help="print a ~/.ssh/config block")
    parser.add_argument("-l", "--login", default=None,
                        help=f"the account in the workspace (default {DEFAULT_LOGIN}, the image's; local "
                        "workspaces run as the hub's OS user)")
    parser.set_defaults(run=run_ssh, api="http", workers=1, after_dashes="ssh_options", prepare=prepare_ssh)


def prepare_ssh(args: argparse.Namespace) -> None:
    """Parse ``mllab ssh keys ...`` before any hub is looked for, so its --help and usage
    errors need no configuration."""
    args.keys = keys_parser().parse_args(args.rest) if args.target == "keys" else None


def keys_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mllab ssh keys", description="The keys that open sshd in a workspace: "
                                     "its ~/.ssh/authorized_keys. The workspace must be running.")
    parser.add_argument("-w", "--workspace", metavar="USER[/SERVER]", help="whose workspace (default: your own)")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)
    add = verbs.add_parser("add", help="add a public key (a .pub file, or - for stdin)")
    add.add_argument("file", help="public key file, e.g. ~/.ssh/id_ed25519.pub, or - to read stdin")
    listing = verbs.add_parser("list", help="list the keys")
    listing.add_argument("--json", action="store_true", help="print JSON")
    remove = verbs.add_parser("remove", help="remove keys by fingerprint (SHA256:...) or comment")
    remove.add_argument("match", metavar="FINGERPRINT|COMMENT")
    return parser


def own_target(http: HubSession, text: str | None) -> Target:
    if text:
        return Target.parse(text)
    return Target(http.json("GET", http.hub_api_url("user"))["name"])


def run_ssh(http: HubSession, args: argparse.Namespace) -> None:
    if args.keys is not None:
        run_keys(http, args.keys)
        return
    if args.rest:
        raise MLLabError(f"unexpected arguments {' '.join(args.rest)!r}; ssh options go after --")
    settings = http.settings
    if args.stdio:
        if not args.target:
            raise MLLabError("--stdio needs the workspace: mllab ssh --stdio USER[/SERVER] (or %n in ssh's config)")
        ws = connect(settings.hub_url, settings.token, Target.parse(args.target))
        bridge(ws)
        return
    login = args.login or DEFAULT_LOGIN
    if args.config:
        targets = [own_target(http, args.target)]
        print(config_block(targets, login, settings.hub_url))
        return
    target = own_target(http, args.target)
    if shutil.which("ssh") is None:
        raise MLLabError("the ssh client is missing: install OpenSSH (Debian: apt-get install openssh-client)")
    command = ssh_arguments(target, login, args.ssh_options)
    sys.stdout.flush()
    os.execvp(command[0], command)


def run_keys(http: HubSession, args: argparse.Namespace) -> None:
    keys = SSHKeys(http, own_target(http, args.workspace))
    if args.verb == "add":
        if args.file == "-":
            text = sys.stdin.read()
        else:
            try:
                with open(os.path.expanduser(args.file)) as f:
                    text = f.read()
            except OSError as e:
                raise MLLabError(f"cannot read {args.file}: {e.strerror}") from None
        lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if not lines:
            raise MLLabError(f"no public key in {args.file}")
        if any("PRIVATE KEY" in line for line in lines):
            raise MLLabError(f"{args.file} is a private key: give the .pub file")
        for line in lines:
            key = keys.add(line)
            said = "Added" if key["added"] else "Already there:"
            print(f"{said} {key['fingerprint']} {key['comment']} in {keys.target}'s workspace")
    elif args.verb == "list":
        found = keys.list()
        if args.json:
            emit_json(found)
        elif not found:
            print(f"No SSH keys in {keys.target}'s workspace: mllab ssh keys add ~/.ssh/id_ed25519.pub")
        else:
            table(["TYPE", "FINGERPRINT", "COMMENT"], [[k["type"], k["fingerprint"], k["comment"]] for k in found])
    else:
        for key in keys.remove(args.match):
            print(f"Removed {key['fingerprint']} {key['comment']} from {keys.target}'s workspace")
