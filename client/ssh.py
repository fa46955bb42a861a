"""``mllab ssh``: SSH into a workspace through the hub, with no port of the workspace open.

The workspace serves OpenSSH's sshd as a websocket at ``<hub>/user/<name>[/<server>]/sshd/``
(``mllab.extensions.sshd``).  :func:`bridge` opens it with the hub token and copies stdin to it
and it to stdout, which makes it an OpenSSH ``ProxyCommand``: ``ssh``, ``scp``, ``rsync`` and VS
Code Remote-SSH then speak SSH through the hub.  The keys that open sshd are managed with
:class:`SSHKeys` (``mllab ssh keys``).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .errors import MLLabError
from .http import HubSession

#: The login of the workspace image (``images/workspace``); local workspaces run as the hub's OS user.
DEFAULT_LOGIN = "jovyan"
#: ssh host aliases ``mllab-<user>[--<server>]`` name workspaces (``%n`` in a ProxyCommand).
ALIAS_PREFIX = "mllab-"
SERVER_SEPARATOR = "--"


class SSHError(MLLabError):
    """The websocket to a workspace's sshd could not be opened."""


@dataclass(frozen=True)
class Target:
    """A workspace: its owner and the name of the server (``""``: the default one)."""

    user: str
    server: str = ""

    @classmethod
    def parse(cls, text: str) -> Target:
        """``alice``, ``alice/gpu``, or a host alias ``mllab-alice`` / ``mllab-alice--gpu``."""
        text = text.strip()
        if text.startswith(ALIAS_PREFIX):
            user, _, server = text[len(ALIAS_PREFIX):].partition(SERVER_SEPARATOR)
        else:
            user, _, server = text.partition("/")
        if not user or "/" in server:
            raise MLLabError(f"not a workspace: {text!r} (say user, user/server or mllab-user[--server])")
        return cls(user, server)

    @property
    def path(self) -> str:
        """``user/<name>/[<server>/]`` under the hub's URL."""
        server = f"{quote(self.server, safe='')}/" if self.server else ""
        return f"user/{quote(self.user, safe='')}/{server}"

    @property
    def alias(self) -> str:
        return ALIAS_PREFIX + self.user + (SERVER_SEPARATOR + self.server if self.server else "")

    def __str__(self) -> str:
        return self.user + (f"/{self.server}" if self.server else "")


def websocket_url(hub_url: str, target: Target) -> str:
    """``ws(s)://<hub>/user/<name>[/<server>]/sshd/``."""
    scheme, rest = hub_url.split("://", 1)
    return ("wss" if scheme == "https" else "ws") + "://" + rest + target.path + "sshd/"


def connect(hub_url: str, token: str, target: Target, timeout: float = 60):
    """The open websocket to ``target``'s sshd; SSHError saying what to do when it is refused."""
    import websocket

    url = websocket_url(hub_url, target)
    try:
        ws = websocket.create_connection(url, header=[f"Authorization: token {token}"], timeout=timeout,
                                         enable_multithread=True, redirect_limit=0)
    except websocket.WebSocketBadStatusException as e:
        raise SSHError(refusal(e.status_code, target)) from None
    except websocket.WebSocketException as e:
        if "Redirect" not in str(e):
            raise SSHError(f"cannot reach {url}: {e}") from None
        # The hub sends requests for a stopped server to its spawn page; the server, its login page.
        raise SSHError(f"{target}'s workspace is not running (start it on the hub), or the token does not "
                       "open it") from None
    except OSError as e:
        raise SSHError(f"cannot reach {url}: {e}") from None
    ws.settimeout(None)
    return ws


def refusal(status: int, target: Target) -> str:
    if status in (401, 403):
        return (f"the hub refused the connection to {target}'s workspace ({status}): the token is not "
                f"{target.user}'s, or lacks access to the server")
    if status == 404:
        return (f"no SSH in {target}'s workspace (404): is the workspace running (start it on the hub), "
                "and is openssh-server installed in it?")
    if status in (502, 503):
        return f"{target}'s workspace is not running or not ready ({status}): start it on the hub, then retry"
    return f"the hub answered {status} for {target}'s SSH websocket"


def bridge(ws, stdin=None, stdout=None) -> None:
    """Copy ``stdin`` to the websocket and the websocket to ``stdout`` until either side ends."""
    import websocket

    in_fd = (stdin or sys.stdin.buffer).fileno()
    out = stdout or sys.stdout.buffer
    done = threading.Event()

    def downstream() -> None:
        try:
            while True:
                opcode, data = ws.recv_data(control_frame=False)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
                if data:
                    out.write(data.encode() if isinstance(data, str) else data)
                    out.flush()
        except (OSError, websocket.WebSocketException):
            pass
        finally:
            done.set()

    reader = threading.Thread(target=downstream, name="mllab-ssh-down", daemon=True)
    reader.start()
    try:
        while not done.is_set():
            chunk = os.read(in_fd, 1 << 16)
            if not chunk:
                break
            ws.send_binary(chunk)
    except (OSError, websocket.WebSocketException):
        pass
    finally:
        # stdin ended (ssh is done) or the far side closed: close ours, let the reader drain.
        with contextlib.suppress(OSError, websocket.WebSocketException):
            ws.close(timeout=2)
        reader.join(5)


def mllab_command() -> list[str]:
    """How to run this ``mllab`` from a ProxyCommand: the script next to this Python, else on PATH."""
    script = Path(sys.executable).parent / "mllab"
    if script.exists():
        return [str(script)]
    found = shutil.which("mllab")
    return [found] if found else [sys.executable, "-c", "from mllab.client.cli import main; main()"]


def proxy_command(target: Target | None = None) -> str:
    """``<mllab> ssh --stdio <target>`` (``%n``, the host alias as typed, without a target)."""
    return shlex.join([*mllab_command(), "ssh", "--stdio"]) + " " + (shlex.quote(str(target)) if target else "%n")


def ssh_arguments(target: Target, login: str | None, extra: list[str]) -> list[str]:
    """The ``ssh`` command line that logs into ``target`` through :func:`proxy_command`."""
    args = ["ssh", "-o", f"ProxyCommand={proxy_command(target)}", "-o", f"HostKeyAlias={target.alias}"]
    if login:
        args += ["-l", login]
    # OpenSSH reads options after the host too: `mllab ssh alice -- -L 8888:localhost:8888 uptime`.
    return [*args, target.alias, *extra]


def config_block(targets: list[Target], login: str, hub_url: str) -> str:
    """A ``~/.ssh/config`` block: one host per target, and ``mllab-*`` for any other workspace."""
    lines = [f"# ML Lab Hub workspaces at {hub_url} (printed by `mllab ssh --config`)",
             "# Host aliases: mllab-<user> (default server) or mllab-<user>--<server>."]
    for target in targets:
        lines += [f"Host {target.alias}", f"    ProxyCommand {proxy_command(target)}",
                  f"    HostKeyAlias {target.alias}", f"    User {login}", ""]
    lines += ["Host mllab-*", f"    ProxyCommand {proxy_command()}", "    HostKeyAlias %n", f"    User {login}", ""]
    if "MLLAB_URL" not in os.environ or "MLLAB_TOKEN" not in os.environ:
        lines.insert(2, "# The ProxyCommand reads MLLAB_URL and MLLAB_TOKEN from the environment ssh runs in.")
    return "\n".join(lines)


class SSHKeys:
    """The keys that open a workspace's sshd (its ``~/.ssh/authorized_keys``), through the hub.

    They are kept in the workspace's home, so the workspace must be running to change them.
    """

    def __init__(self, http: HubSession, target: Target) -> None:
        self.http = http
        self.target = target
        self.url = http.settings.hub_url + target.path + "mllab/ssh/keys"

    def _require_running(self) -> None:
        """Keys live in the workspace's home: say so plainly when it is not running."""
        model = self.http.json("GET", self.http.hub_api_url(f"users/{quote(self.target.user, safe='')}"))
        server = (model.get("servers") or {}).get(self.target.server)
        if not server or not server.get("ready"):
            raise SSHError(f"{self.target}'s workspace is not running: start it on the hub first "
                           "(SSH keys are kept in its home)")

    def _call(self, method: str, **kwargs):
        self._require_running()
        try:
            return self.http.json(method, self.url, **kwargs)
        except MLLabError as e:
            status = getattr(e, "status", 0)
            if status in (404, 424, 502, 503):
                raise SSHError(f"{self.target}'s workspace does not answer for its SSH keys ({status}): "
                               "start it on the hub first (keys live in its home)") from None
            raise

    def list(self) -> list[dict]:
        return self._call("GET")["keys"]

    def add(self, public_key: str) -> dict:
        return self._call("POST", json={"key": public_key})

    def remove(self, match: str) -> list[dict]:
        return self._call("DELETE", params={"match": match})["removed"]
