"""What the processes of one test run share: a folder, locks, and the daemons started for all.

The suite runs on pytest-xdist's workers (``make test``); the controller makes the run's folder
before they start, and they find it in ``$MLLAB_TEST_RUN_DIR``. A daemon that every worker uses
(podman's API service) is started by the first worker that needs it, under a lock, and stopped
by the controller when the run ends (`stop_daemons`), before it checks that nothing of the
run is left. Without xdist the one pytest process plays both parts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
from filelock import FileLock

RUN_DIR_ENV = "MLLAB_TEST_RUN_DIR"


def start() -> None:
    """Make the run's folder (in the controller, before any worker starts)."""
    os.environ[RUN_DIR_ENV] = tempfile.mkdtemp(prefix="mllab-test-run-")
    (folder() / "daemons").mkdir()


def folder() -> Path:
    return Path(os.environ[RUN_DIR_ENV])


@contextlib.contextmanager
def lock(name: str) -> Iterator[None]:
    """Held by one process of the run at a time."""
    with FileLock(folder() / f"{name}.lock"):
        yield


def add_daemon(name: str, pid: int) -> None:
    """Have the controller stop process ``pid`` (and what it started) when the run ends."""
    (folder() / "daemons" / f"{name}-{pid}").write_text(str(pid))


def has_daemon(name: str) -> bool:
    return any((folder() / "daemons").glob(f"{name}-*"))


def stop_daemons() -> None:
    """Stop the run's daemons (in the controller, after the workers)."""
    for record in (folder() / "daemons").iterdir():
        with contextlib.suppress(psutil.NoSuchProcess, ValueError):
            process = psutil.Process(int(record.read_text()))
            tree = [process, *process.children(recursive=True)]
            process.send_signal(signal.SIGTERM)
            _, alive = psutil.wait_procs([process], timeout=15)
            for leftover in [*alive, *tree[1:]]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    leftover.kill()
            psutil.wait_procs(tree, timeout=5)


def remove() -> None:
    """Remove the run's folder (in the controller, at the very end)."""
    shutil.rmtree(folder(), ignore_errors=True)
