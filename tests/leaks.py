"""A pytest plugin: no process that a test run started outlives it.

The run's controller (the one pytest process without xdist) puts a run id in its environment
(`MARKER`) before any worker or test starts, so every process started from the run carries it:
workers, hubs, proxies, services, the podman service. Processes given a minimal environment of
their own (the local runtime's workloads, JupyterHub's single-user servers) do not, but they
work in the run's temporary folders, so a process whose working folder is in one counts too.

When the session ends (after the workers, the fixtures and `run.stop_daemons`), the controller
waits a little for such processes to end, then kills those left and fails the run, naming each.
Containers run by podman are children of podman's own processes and are not seen here.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from pathlib import Path

import psutil
import pytest

#: The variable that marks every process of the run, and its value for this run.
MARKER = "MLLAB_TEST_RUN"
#: Seconds the processes of the run have to end by themselves once the session is over.
GRACE = float(os.environ.get("MLLAB_TEST_LEAK_GRACE", "10"))
_WORKER_PID = "mllab_leaks_pid"
_worker_pids = pytest.StashKey[set[int]]()


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        # A worker is the run's own; the controller hears its pid when it is done.
        config.workeroutput[_WORKER_PID] = os.getpid()
        return
    os.environ[MARKER] = secrets.token_hex(8)
    config.stash[_worker_pids] = set()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    pid = getattr(node, "workeroutput", {}).get(_WORKER_PID)
    if pid is not None:
        node.config.stash[_worker_pids].add(pid)


def _temporary_root(config: pytest.Config) -> Path | None:
    # Under xdist the workers' folders are in the controller's (``popen-gw0``, ...). Read, not
    # made: getbasetemp() would make one (and prune old ones) in a run that used none.
    basetemp = getattr(getattr(config, "_tmp_path_factory", None), "_basetemp", None)
    return basetemp.resolve() if basetemp is not None else None


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def processes_of_run(run_id: str, root: Path | None, exclude: set[int]) -> list[psutil.Process]:
    """The live processes marked with ``run_id``, or working in ``root``, but those in ``exclude``."""
    found = []
    for process in psutil.process_iter():
        if process.pid in exclude or not _alive(process):
            continue
        with contextlib.suppress(psutil.Error, OSError):
            if process.environ().get(MARKER) == run_id:
                found.append(process)
                continue
            if root is not None and Path(process.cwd()).is_relative_to(root):
                found.append(process)
    return found


def describe(process: psutil.Process) -> str:
    try:
        with process.oneshot():
            age = time.time() - process.create_time()
            command = " ".join(process.cmdline()) or process.name()
            return f"pid {process.pid}, parent {process.ppid()}, {age:.0f}s old: {command[:300]}"
    except psutil.Error:
        return f"pid {process.pid} (ended meanwhile)"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    # Last: after xdist has stopped its workers, the runner has torn the fixtures down and
    # the conftest has stopped the run's daemons (the podman service).
    config = session.config
    if hasattr(config, "workerinput") or MARKER not in os.environ:
        return
    exclude = {os.getpid(), *config.stash.get(_worker_pids, set())}
    root = _temporary_root(config)
    deadline = time.monotonic() + GRACE
    while (left := processes_of_run(os.environ[MARKER], root, exclude)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not left:
        return
    descriptions = [describe(process) for process in left]
    for process in left:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(left, timeout=5)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    lines = ["Processes of this run that outlived it (killed now):", *descriptions]
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("=", "processes left behind", red=True, bold=True)
        for line in lines:
            reporter.write_line(line, red=True)
    else:
        print("\n".join(lines))
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
