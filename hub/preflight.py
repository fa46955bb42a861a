"""Checks run before the hub starts, each turning a common mistake into one clear line."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError


class PreflightError(Exception):
    """A problem the person starting the hub can fix; its message says how."""


def check_data_dir(path: str) -> None:
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as e:
        raise PreflightError(
            f"data dir {path} is not writable ({e.strerror}): choose another with "
            "--data-dir (or MLLab.data_dir), or make it writable for this user"
        ) from None


def check_port(ip: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family) as sock:
        # As servers do (node's included): connections in TIME_WAIT do not make a port busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PreflightError(
                    f"port {port} on {ip} is already in use: stop what listens there, "
                    "or choose another port with --port"
                ) from None
            raise PreflightError(f"cannot listen on {ip}:{port} ({e.strerror}): check --ip and --port") from None


def previous_proxy_running(pid_file: Path) -> bool:
    """Whether the proxy of a hub that was killed outright (its pid in ``pid_file``) still runs.

    JupyterHub stops that proxy when it starts its own, so the port it holds is free by then.
    """
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def check_database(url: str) -> None:
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise PreflightError(
            f"database URL {url!r} is not valid: use e.g. postgresql+psycopg://user:password@host:5432/db"
        ) from None
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, ImportError) as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise PreflightError(
            f"cannot connect to the database {shown}: {reason}. "
            "Check --db-url (or MLLab.db_url) and that the database server is running"
        ) from None
    finally:
        engine.dispose()


def check_proxy(command: list[str]) -> None:
    if shutil.which(command[0], path=os.environ.get("PATH")) is None:
        raise PreflightError(
            f"{command[0]} not found on PATH: install it with "
            "`npm install -g configurable-http-proxy`, or run `make up`, which installs it "
            "into ./node_modules"
        )
