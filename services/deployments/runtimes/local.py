"""Workloads as local processes: the embedded default (``mllab up``).

Each workload is a process group of its own (a new session), started under a small ``sh``
wrapper that writes the command's exit status to ``<work_dir>/exit/<id>`` when it ends, so a
job's status survives a restart of the service.  Its output goes to ``<work_dir>/logs/<id>.log``
and its handle to ``<work_dir>/handles/<id>.json``.  Every process carries
``MLLAB_WORKLOAD_ID`` and ``MLLAB_WORK_DIR`` in its environment: after a restart, `list` finds
them (with psutil) even without their handle, and a recycled pid is never taken for one of
them (the handle's process start time must match too).

Models and services get a free port as ``$PORT`` and listen on the loopback address only,
``$HOST`` (127.0.0.1; the model server is started bound to it): what other machines could
reach would skip the proxy's invoke check.  They run as the service's own OS user, with a
minimal environment (`LocalRuntime.keep_env`), not the service's secrets.

Workloads run in sessions of their own, so they outlive a service killed outright (its next
start adopts them), but a service that is stopped stops them (`LocalRuntime.stop_with_service`).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path

import psutil
from traitlets import Bool, Float, List, Unicode, default

from .base import MODEL_SERVER_MODULE, Handle, Runtime, State, Workload, WorkloadError, model_server_args

#: Where models and services listen (``$HOST``): loopback only, so that other machines reach them
#: through the platform's proxy alone.
HOST = "127.0.0.1"
#: Records the command's exit status in the file named by $1, atomically.
WRAPPER = 'f=$1; shift; "$@"; code=$?; echo "$code" > "$f.tmp" && mv "$f.tmp" "$f"; exit "$code"'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def tail_lines(path: Path, lines: int, block: int = 65536) -> bytes:
    """The last ``lines`` lines of the file at ``path``, read from its end."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        position = f.tell()
        data = b""
        while position > 0 and data.count(b"\n") <= lines:
            step = min(block, position)
            position -= step
            f.seek(position)
            data = f.read(step) + data
    return b"".join(data.splitlines(keepends=True)[-lines:]) if lines > 0 else b""


class LocalRuntime(Runtime):
    """Runs workloads as process groups on the service's machine."""

    name = "local"

    work_dir = Unicode(
        help="""
        Folder of the workloads' logs, exit statuses, handles and working folders.

        Default: ``<data_dir>/deployments`` of the service (``ServiceApp.data_dir``), else
        ``.mllab/deployments`` in the current folder.  Two platforms on one machine need two
        folders: `list` sees the processes started with this one only.

            c.LocalRuntime.work_dir = "/srv/mllab/deployments"
        """,
    ).tag(config=True)

    @default("work_dir")
    def _default_work_dir(self) -> str:
        data_dir = getattr(self.parent, "data_dir", None)
        return str(Path(data_dir or ".mllab").absolute() / "deployments")

    keep_env = List(
        Unicode(),
        ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"],
        help="""
        Variables of the service's environment that workloads get too (the rest, such as the
        service's hub token and database password, they do not).  A workload's own ``env``
        comes on top.

            c.LocalRuntime.keep_env = ["PATH", "HOME", "LANG", "HTTPS_PROXY"]
        """,
    ).tag(config=True)

    follow_interval = Float(
        0.25,
        help="Seconds between looks at a log file that `follow` has read to its end.",
    ).tag(config=True)

    stop_with_service = Bool(
        True,
        help="""
        Stop the workloads when the service is stopped (SIGTERM or SIGINT, as ``mllab up``
        stops it when it stops), as JupyterHub stops the single-user servers.  Deployments keep
        their desired state, and the service's next start starts them again; job runs still
        going end ``failed``.  Off, they go on and the next start adopts them.  ``mllab up``
        sets it from ``JupyterHub.cleanup_servers``.  A service that ends without being
        stopped (its hub killed outright, a crash) leaves them running either way.

            c.LocalRuntime.stop_with_service = False
        """,
    ).tag(config=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        # Our own children, reaped when they end (processes adopted after a restart are init's).
        self._children: dict[str, subprocess.Popen] = {}
        # Starts under way (in threads), which `stop_all` waits for; none begins after it.
        self._starts = threading.Condition()
        self._starting = 0
        self._stopping_all = False

    # --- where things are ---

    def _path(self, folder: str, workload_id: str, suffix: str = "") -> Path:
        return Path(self.work_dir) / folder / f"{workload_id}{suffix}"

    def log_path(self, workload_id: str) -> Path:
        return self._path("logs", workload_id, ".log")

    def _exit_code(self, workload_id: str) -> int | None:
        try:
            return int(self._path("exit", workload_id).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    # --- start ---

    def _command(self, workload: Workload, port: int | None) -> list[str]:
        if workload.image:
            raise WorkloadError(
                f"the local runtime runs commands, not images ({workload.image}): give a command, "
                "or run the platform with the docker or kubernetes runtime"
            )
        if workload.kind == "model":
            if not workload.model_dir:
                raise WorkloadError(f"model workload {workload.id} has no model_dir")
            return [sys.executable, "-m", MODEL_SERVER_MODULE,
                    *model_server_args(workload.name, workload.model_dir, HOST, port)]
        if not workload.command:
            raise WorkloadError(f"the local runtime needs a command to run {workload.kind} {workload.name}")
        return list(workload.command)

    def _spawn(self, workload: Workload) -> Handle:
        with self._starts:
            if self._stopping_all:
                raise WorkloadError(f"cannot start {workload.kind} {workload.name}: the service is stopping")
            self._starting += 1
        try:
            return self._launch(workload)
        finally:
            with self._starts:
                self._starting -= 1
                self._starts.notify_all()

    def _launch(self, workload: Workload) -> Handle:
        for folder in ("logs", "exit", "handles", "run"):
            (Path(self.work_dir) / folder).mkdir(parents=True, exist_ok=True)
        if self._find(workload.id) or self._path("handles", workload.id, ".json").exists():
            self.log.info("Replacing workload %s", workload.id)
            self._stop(Handle(workload.id, self._read_handle(workload.id) or {}))
        port = free_port() if workload.kind in ("model", "service") else None
        command = self._command(workload, port)
        env = {key: os.environ[key] for key in self.keep_env if key in os.environ}
        env.update(workload.env)
        env.update({"MLLAB_WORKLOAD_ID": workload.id, "MLLAB_WORK_DIR": self.work_dir})
        if port is not None:
            env.update(PORT=str(port), HOST=HOST)
        cwd = self._path("run", workload.id)
        cwd.mkdir(exist_ok=True)
        self._path("exit", workload.id).unlink(missing_ok=True)
        with open(self.log_path(workload.id), "ab") as log:
            try:
                proc = subprocess.Popen(
                    ["sh", "-c", WRAPPER, "mllab-workload", str(self._path("exit", workload.id)), *command],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                    start_new_session=True,
                )
            except OSError as e:
                raise WorkloadError(f"cannot start {workload.kind} {workload.name}: {e}") from e
        self._children[workload.id] = proc
        created = self._settled(proc, workload.id)
        ref = {"pid": proc.pid, "create_time": created, "port": port, "kind": workload.kind}
        handle = Handle(workload.id, ref, f"http://{HOST}:{port}" if port else None)
        self._write_handle(handle)
        self.log.info("Started %s %s/%s as %s (pid %d%s)", workload.kind, workload.namespace, workload.name,
                      workload.id, proc.pid, f", port {port}" if port else "")
        return handle

    def _settled(self, proc: subprocess.Popen, workload_id: str) -> float | None:
        """The start time of ``proc`` once its marker shows (None if it ended first).

        Popen returns when the new program's exec has begun; for a moment after, the kernel
        shows no environment for it yet, and `state` would take it for gone.
        """
        deadline = time.monotonic() + 5
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(proc.pid)
                if self._marked(process) == workload_id or time.monotonic() > deadline:
                    return process.create_time()
            time.sleep(0.002)
        return None

    def _write_handle(self, handle: Handle) -> None:
        path = self._path("handles", handle.workload_id, ".json")
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(handle)))
        tmp.replace(path)

    def _read_handle(self, workload_id: str) -> dict | None:
        try:
            return json.loads(self._path("handles", workload_id, ".json").read_text())["ref"]
        except (FileNotFoundError, ValueError, KeyError):
            return None

    async def start(self, workload: Workload) -> Handle:
        return await asyncio.to_thread(self._spawn, workload)

    # --- finding processes ---

    def _marked(self, proc: psutil.Process) -> str | None:
        """The workload id ``proc`` runs for, if it is one of this runtime's."""
        try:
            environ = proc.environ()
        except (psutil.Error, OSError):
            return None
        if environ.get("MLLAB_WORK_DIR") != self.work_dir:
            return None
        return environ.get("MLLAB_WORKLOAD_ID")

    def _find(self, workload_id: str | None = None) -> dict[str, list[psutil.Process]]:
        """This runtime's live processes by workload id (all of them, or ``workload_id``'s)."""
        found: dict[str, list[psutil.Process]] = {}
        for proc in psutil.process_iter():
            marked = self._marked(proc)
            if marked and (workload_id is None or marked == workload_id):
                with contextlib.suppress(psutil.Error):
                    if proc.status() != psutil.STATUS_ZOMBIE:
                        found.setdefault(marked, []).append(proc)
        return found

    def _leader(self, handle: Handle) -> psutil.Process | None:
        """The handle's process while it lives: same pid, same start time, same marker."""
        pid, created = handle.ref.get("pid"), handle.ref.get("create_time")
        if not pid or created is None:
            return None
        try:
            proc = psutil.Process(pid)
            if abs(proc.create_time() - created) > 0.01 or proc.status() == psutil.STATUS_ZOMBIE:
                return None
        except psutil.Error:
            return None
        return proc if self._marked(proc) == handle.workload_id else None

    def _reap(self, workload_id: str) -> None:
        child = self._children.get(workload_id)
        if child is not None and child.poll() is not None:
            del self._children[workload_id]

    # --- state, stop, list ---

    def _state(self, handle: Handle) -> State:
        self._reap(handle.workload_id)
        if self._leader(handle) is not None:
            return State("running")
        code = self._exit_code(handle.workload_id)
        if code is not None:
            return State("exited", code, f"killed by signal {code - 128}" if code > 128 else None)
        return State("gone")

    async def state(self, handle: Handle) -> State:
        return await asyncio.to_thread(self._state, handle)

    def _signal(self, procs: list[psutil.Process], sig: signal.Signals) -> None:
        groups = set()
        for proc in procs:
            with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
                groups.add(os.getpgid(proc.pid))
        for group in groups - {os.getpgid(0)}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)

    def _wait_gone(self, workload_id: str, procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
        """Those of ``procs`` still alive after ``timeout`` seconds.  A zombie counts as gone: it is
        whoever adopted it's to reap (ours, the group leader, is reaped here)."""
        deadline = time.monotonic() + timeout
        while True:
            self._reap(workload_id)
            alive = []
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                        alive.append(proc)
            if not alive or time.monotonic() >= deadline:
                return alive
            time.sleep(0.05)

    def _end(self, handle: Handle) -> bool:
        """SIGTERM its processes, SIGKILL those left after `stop_timeout`; True if there were any."""
        workload_id = handle.workload_id
        procs = self._find(workload_id).get(workload_id, [])
        leader = self._leader(handle)
        if leader is not None and leader not in procs:
            procs.append(leader)
        if procs:
            self.log.info("Stopping workload %s (%d processes)", workload_id, len(procs))
            self._signal(procs, signal.SIGTERM)
            alive = self._wait_gone(workload_id, procs, self.stop_timeout)
            if alive:
                self.log.warning("Killing workload %s: %d processes outlived SIGTERM", workload_id, len(alive))
                self._signal(alive, signal.SIGKILL)
                alive = self._wait_gone(workload_id, alive, 10)
                if alive:
                    raise RuntimeError(f"workload {workload_id}: processes {[p.pid for p in alive]} do not end")
        child = self._children.pop(workload_id, None)
        if child is not None:
            child.wait()
        return bool(procs)

    def _stop(self, handle: Handle) -> None:
        workload_id = handle.workload_id
        # Again while anything is found: a fork racing the signals is caught by the next round.
        for _ in range(5):
            if not self._end(handle):
                break
        else:
            raise RuntimeError(f"workload {workload_id} keeps starting processes; they could not be stopped")
        for path in (self.log_path(workload_id), self._path("exit", workload_id),
                     self._path("exit", workload_id).with_suffix(".tmp"), self._path("handles", workload_id, ".json")):
            path.unlink(missing_ok=True)
        shutil.rmtree(self._path("run", workload_id), ignore_errors=True)

    async def stop(self, handle: Handle) -> None:
        await asyncio.to_thread(self._stop, handle)

    def _close_starts(self) -> list[Handle]:
        with self._starts:
            self._stopping_all = True
            self._starts.wait_for(lambda: not self._starting)
        return self._list()

    async def stop_all(self) -> None:
        """Stop every workload, side by side, once the starts under way have begun theirs; no
        start begins after (the service stops, see `stop_with_service`)."""
        handles = await asyncio.to_thread(self._close_starts)
        results = await asyncio.gather(*(self.stop(handle) for handle in handles), return_exceptions=True)
        failed = [f"{handle.workload_id}: {result}" for handle, result in zip(handles, results, strict=True)
                  if isinstance(result, Exception)]
        if failed:
            raise RuntimeError(f"workloads that could not be stopped: {'; '.join(failed)}")

    def _list(self) -> list[Handle]:
        handles: dict[str, Handle] = {}
        folder = Path(self.work_dir) / "handles"
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            with contextlib.suppress(ValueError, KeyError, TypeError, FileNotFoundError):
                handle = Handle(**json.loads(path.read_text()))
                handles[handle.workload_id] = handle
        # Processes without a handle file (the service died between start and writing it).
        for workload_id, procs in self._find().items():
            if workload_id in handles:
                continue
            leader = min(procs, key=lambda p: p.create_time())
            with contextlib.suppress(psutil.Error):
                port = leader.environ().get("PORT")
                ref = {"pid": leader.pid, "create_time": leader.create_time(), "port": int(port) if port else None,
                       "kind": None}
                handles[workload_id] = Handle(workload_id, ref, f"http://{HOST}:{port}" if port else None)
        for workload_id in list(self._children):
            self._reap(workload_id)
        return list(handles.values())

    async def list(self) -> list[Handle]:
        return await asyncio.to_thread(self._list)

    # --- logs ---

    async def logs(self, handle: Handle, tail: int | None = None) -> str:
        path = self.log_path(handle.workload_id)
        try:
            data = await asyncio.to_thread(tail_lines, path, tail) if tail is not None else \
                await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return ""
        return data.decode("utf-8", errors="replace")

    async def follow(self, handle: Handle) -> AsyncIterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            f = open(self.log_path(handle.workload_id), "rb")  # noqa: SIM115 - held across awaits
        except FileNotFoundError:
            return
        with f:
            while True:
                chunk = await asyncio.to_thread(f.read, 65536)
                if chunk:
                    if text := decoder.decode(chunk):
                        yield text
                    continue
                if (await self.state(handle)).phase != "running":
                    # It ended: what it wrote last is in the file now.
                    rest = decoder.decode(await asyncio.to_thread(f.read), final=True)
                    if rest:
                        yield rest
                    return
                await asyncio.sleep(self.follow_interval)
