"""SSH into a workspace through the hub: OpenSSH's sshd behind jupyter-server-proxy.

The entry point ``sshd`` (``jupyter_serverproxy_servers``) serves sshd at
``/user/<name>/sshd/`` with ``raw_socket_proxy``: a websocket there is a byte pipe to sshd on
the workspace's loopback.  Two locks guard it: the hub token opens the websocket (the
single-user server checks it as for any other route), and a key in ``~/.ssh/authorized_keys``
opens sshd.  ``mllab ssh`` is the client side (``mllab.client.ssh``).

sshd runs as the workspace's own user with its own configuration and host key, kept in
``~/.mllab/sshd/`` (0700; the host key is made on first start and kept with the home, so it
stays the same across restarts).  It is started on the first connection and stopped with the
single-user server.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "OpenSSH's sshd is not installed in this workspace, so `mllab ssh` cannot reach it: "
    "install it (Debian/Ubuntu: apt-get install openssh-server) and restart the workspace"
)
#: Where sshd and its helpers live when they are not on PATH (sbin is often not, for users).
SEARCH_PATH = [*os.environ.get("PATH", "").split(os.pathsep), "/usr/sbin", "/sbin", "/usr/local/sbin"]
#: sftp-server by distribution: Debian/Ubuntu, Fedora/RHEL, Arch/Alpine, macOS/FreeBSD.
SFTP_SERVERS = [
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/openssh/sftp-server",
    "/usr/lib/ssh/sftp-server",
    "/usr/libexec/sftp-server",
]


def find_program(name: str) -> str | None:
    return shutil.which(name, path=os.pathsep.join(p for p in SEARCH_PATH if p))


def sftp_server() -> str:
    """The sftp-server binary (``scp`` uses SFTP); sshd's built-in one where none is installed."""
    return next((path for path in SFTP_SERVERS if os.access(path, os.X_OK)), "internal-sftp")


def runtime_dir(home: Path) -> Path:
    return home / ".mllab" / "sshd"


def authorized_keys_path(home: Path) -> Path:
    """Where the keys that open sshd are kept (``mllab ssh keys``): the standard file of the home."""
    return home / ".ssh" / "authorized_keys"


def open_to_others(path: Path) -> Path | None:
    """The first folder from ``path`` up to ``/`` that others may write to (sshd's StrictModes refuses those)."""
    for folder in [path, *path.parents]:
        try:
            mode = folder.stat().st_mode
        except FileNotFoundError:
            continue
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            return folder
    return None


def quoted(path: Path) -> str:
    return f'"{path}"' if " " in str(path) else str(path)


def sshd_config(home: Path, host_key: Path, user: str, strict_modes: bool = True) -> str:
    """The configuration of a workspace's sshd (the listen address is given on the command line)."""
    return "\n".join([
        "# Written by mllab.extensions.sshd at each start; edits are lost.",
        f"HostKey {quoted(host_key)}",
        f"AuthorizedKeysFile {quoted(authorized_keys_path(home))}",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "PidFile none",
        # The keys file is the workspace's: only its own user may log in with them (sshd running
        # as root, as on the local backend under a root hub, could otherwise serve any account).
        f"AllowUsers {user}",
        f"StrictModes {'yes' if strict_modes else 'no'}",
        # scp and sftp start in the workspace's home (on the local backend it is not the account's).
        f"Subsystem sftp {sftp_server()} -d {quoted(home)}",
        "PrintMotd no",
        "X11Forwarding no",
        # A dropped websocket ends the session instead of leaving it behind.
        "ClientAliveInterval 30",
        "ClientAliveCountMax 4",
        "",
    ])


def os_user() -> str:
    """The account sshd serves: the process's own (``$USER`` may name the hub user instead)."""
    return pwd.getpwuid(os.geteuid()).pw_name


def prepare(home: Path, user: str) -> Path:
    """Make ``~/.mllab/sshd`` (0700) with a host key (0600, made once) and a fresh config; the config's path."""
    folder = runtime_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    host_key = folder / "ssh_host_ed25519_key"
    if not host_key.exists():
        keygen = find_program("ssh-keygen")
        if keygen is None:
            raise RuntimeError("ssh-keygen is missing (Debian: apt-get install openssh-client)")
        log.info("Making the SSH host key %s", host_key)
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", f"mllab-workspace-{user}", "-f",
                        str(host_key)], check=True, stdin=subprocess.DEVNULL)
    host_key.chmod(0o600)
    keys = authorized_keys_path(home)
    strict = open_to_others(keys.parent) is None
    if not strict:
        log.warning("sshd runs with StrictModes off: %s is writable by others", open_to_others(keys.parent))
    if os.geteuid() == 0:
        # sshd started as root needs its privilege separation folder (the package makes it at boot).
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    config = folder / "sshd_config"
    config.write_text(sshd_config(home, host_key, user, strict_modes=strict))
    config.chmod(0o600)
    return config


def sshd_command(sshd: str):
    """The command jupyter-server-proxy runs on the first connection (a callable: it prepares files then)."""

    def command(port: int) -> list[str]:
        home = Path(os.path.expanduser("~"))
        user = os_user()
        config = prepare(home, user)
        log.info("Starting sshd for %s on 127.0.0.1:%s", user, port)
        return [sshd, "-D", "-e", "-f", str(config), "-o", f"ListenAddress=127.0.0.1:{port}"]

    return command


def setup_sshd() -> dict:
    """The ``sshd`` entry of jupyter-server-proxy (entry point ``jupyter_serverproxy_servers``).

    Without sshd this raises ``RuntimeError`` with the install hint: jupyter-server-proxy then
    logs it and serves no ``sshd/`` route, so ``mllab ssh`` gets a 404 that it explains.  No page
    is served instead: SSH has no tile and no browser user, and a websocket client cannot show one.
    """
    sshd = find_program("sshd")
    if sshd is None:
        raise RuntimeError(INSTALL_HINT)
    return {
        "command": sshd_command(sshd),
        "raw_socket_proxy": True,
        "timeout": 20,
        "new_browser_tab": False,
        # Not a web page: no launcher tile.
        "launcher_entry": {"enabled": False, "title": "SSH"},
    }
