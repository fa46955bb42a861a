"""The desktop's process: TigerVNC's X server and the session program, gone when it goes.

jupyter-server-proxy starts this program for the ``desktop-websockify`` entry; it runs
``Xtigervnc`` in the foreground, listening only on the entry's unix socket (no TCP port,
no VNC password: the hub's login guards the websocket), then the session program on that
display. Nothing it started outlives it:

- it is a child subreaper, so whatever its children leave behind (``dbus-daemon`` forks
  away from ``dbus-launch``) is re-parented to it and found again at the end;
- SIGTERM, SIGINT or SIGHUP, the X server or the session ending, all lead to the same
  cleanup: every descendant gets SIGTERM, then SIGKILL after a grace period;
- its parent (the workspace's Jupyter server) dying, even by SIGKILL, sends it SIGTERM
  (``PR_SET_PDEATHSIG``).

    python -m mllab.extensions.desktop.session --socket /tmp/x/socket [--geometry 1680x1050]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .programs import find_session, find_x_server

log = logging.getLogger("mllab.desktop")

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
#: Seconds the processes get between SIGTERM and SIGKILL.
GRACE = 5.0


class Stop(Exception):
    """Raised in the main loop by the stop signals."""


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        log.warning("prctl(%s) failed: %s", option, os.strerror(ctypes.get_errno()))


def xauthority(path: Path, cookie: bytes) -> None:
    """An Xauthority file whose one MIT-MAGIC-COOKIE-1 entry fits any display (FamilyWild,
    no display number), so it can be written before the X server picks its display."""

    def field(value: bytes) -> bytes:
        return struct.pack(">H", len(value)) + value

    entry = struct.pack(">H", 0xFFFF) + field(b"") + field(b"") + field(b"MIT-MAGIC-COOKIE-1") + field(cookie)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(entry)


def x_server_command(x_server: str, socket: str, auth: Path, displayfd: int, geometry: str) -> list[str]:
    """Xtigervnc on a display of its choosing, RFB on ``socket`` only (mode 0600), X clients
    only from this machine with the cookie."""
    return [
        x_server, "-displayfd", str(displayfd), "-auth", str(auth), "-nolisten", "tcp",
        "-rfbunixpath", socket, "-rfbunixmode", "0600", "-rfbport", "-1", "-SecurityTypes", "None",
        "-geometry", geometry, "-depth", "24", "-desktop", f"{os.environ.get('JUPYTERHUB_USER', 'workspace')} desktop",
        "-AlwaysShared", "-AcceptSetDesktopSize",
    ]


def descendants(root: int) -> list[int]:
    """Every process below ``root``, from ``/proc`` (children before their parents' siblings)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _reap() -> list[int]:
    """Collect every exited child (orphans included, as a subreaper); their pids."""
    reaped = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append(pid)


def stop_all(grace: float = GRACE) -> None:
    """SIGTERM every descendant, SIGKILL those left after ``grace`` seconds, reap them all."""
    me = os.getpid()
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        pids = descendants(me)
        if not pids:
            return
        log.info("Sending %s to the desktop's processes %s", sig.name, pids)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap()
            if not descendants(me):
                return
            time.sleep(0.05)
    _reap()


def _raise_stop(signum, frame) -> None:
    raise Stop(signal.Signals(signum).name)


def read_display(fd: int, x_server: subprocess.Popen, timeout: float = 30) -> int:
    """The display number Xtigervnc writes to ``-displayfd`` once it accepts connections."""
    deadline = time.monotonic() + timeout
    data = b""
    os.set_blocking(fd, False)
    while not data.endswith(b"\n"):
        if x_server.poll() is not None:
            raise RuntimeError(f"Xtigervnc exited with {x_server.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Xtigervnc was not ready after {timeout}s")
        try:
            chunk = os.read(fd, 64)
        except BlockingIOError:
            time.sleep(0.05)
            continue
        if not chunk:
            raise RuntimeError("Xtigervnc closed -displayfd without a display number")
        data += chunk
    return int(data.decode().strip())


def run(socket: str, geometry: str) -> int:
    parent = os.getppid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent went before the death signal was armed
        return 0
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _raise_stop)

    x_server = find_x_server()
    session = find_session()
    if x_server is None or session is None:
        log.error("Cannot start the desktop: %s is missing", "Xtigervnc" if x_server is None else "a session program")
        return 1

    home = os.environ.get("HOME") or str(Path.home())
    private = Path(tempfile.mkdtemp(prefix="mllab-desktop-"))
    auth = private / "Xauthority"
    xauthority(auth, secrets.token_bytes(16))
    read_end, write_end = os.pipe()
    watched: dict[int, str] = {}
    try:
        xvnc = subprocess.Popen(x_server_command(x_server, socket, auth, write_end, geometry),
                                pass_fds=(write_end,), cwd=home)
        watched[xvnc.pid] = "Xtigervnc"
        os.close(write_end)
        display = read_display(read_end, xvnc)
        log.info("Desktop of %s on display :%s (Xtigervnc %s), session %s",
                 os.environ.get("JUPYTERHUB_USER", "?"), display, xvnc.pid, session)
        env = {**os.environ, "DISPLAY": f":{display}", "XAUTHORITY": str(auth)}
        desktop = subprocess.Popen(session, env=env, cwd=home)
        watched[desktop.pid] = "the session"
        # Reap everything that ends (orphans too); stop when the X server or the session does.
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid in watched:
                log.info("%s (%s) ended with status %s; stopping the desktop", watched[pid], pid, status)
                return 0
    except Stop as stop:
        log.info("Stopping the desktop on %s", stop)
        return 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        stop_all()
        os.close(read_end)
        shutil.rmtree(private, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a VNC desktop on a unix socket until stopped.")
    parser.add_argument("--socket", required=True, help="the unix socket RFB listens on")
    parser.add_argument("--geometry", default="1680x1050", help="the screen size at start (WxH)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s")
    sys.exit(run(args.socket, args.geometry))


if __name__ == "__main__":
    main()
