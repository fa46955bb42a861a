"""The limits a container engine or Kubernetes puts on a workspace: its Linux control group.

A workspace in a container sees its own cgroup at ``/sys/fs/cgroup`` (cgroup namespaces);
a local process sees the path named in ``/proc/self/cgroup``.  Both cgroup v2 (unified) and
v1 (``memory``, ``cpu`` controllers) are read.  Anything missing or unlimited is ``None``:
the machine's own figures apply then.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
#: cgroup v1 writes "no limit" as a huge number (PAGE_COUNTER_MAX pages); anything above is unlimited.
V1_UNLIMITED = 2**60


@dataclass
class CgroupFigures:
    """What the workspace's cgroup says; ``None`` where it sets nothing."""

    memory_limit: int | None = None
    #: Memory in use in the cgroup, less the page cache the kernel can drop (as ``docker stats`` counts).
    memory_used: int | None = None
    #: CPU quota in cores (``cpu.max`` 150000 100000 is 1.5).
    cpu_limit: float | None = None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _stat(path: Path) -> dict[str, int]:
    text = _read(path) or ""
    figures = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            figures[key] = int(value)
    return figures


def own_paths(proc_cgroup: str) -> dict[str, str]:
    """``/proc/self/cgroup`` as {controller: path}; the unified hierarchy is the key ``""``."""
    paths = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                paths[controller] = parts[2]
    return paths


def _candidates(mount: Path, path: str) -> list[Path]:
    """The cgroup folder for ``path`` under ``mount`` and its ancestors, deepest first.

    In a container with a cgroup namespace the path is ``/`` and the mount is the cgroup itself;
    a path that is not under the mount (a namespace we do not see into) falls back to the mount.
    """
    folders = []
    current = mount / path.strip("/") if path.strip("/") else mount
    if current.is_dir():
        while True:
            folders.append(current)
            if current == mount:
                break
            current = current.parent
    return folders or [mount]


def _tightest(values: list[int | None]) -> int | None:
    limits = [v for v in values if v is not None]
    return min(limits) if limits else None


def read_v2(folders: list[Path]) -> CgroupFigures:
    figures = CgroupFigures()
    limits: list[int | None] = []
    for folder in folders:
        text = _read(folder / "memory.max")
        limits.append(int(text) if text and text.isdigit() else None)
    figures.memory_limit = _tightest(limits)
    current = _read(folders[0] / "memory.current")
    if current and current.isdigit():
        figures.memory_used = max(0, int(current) - _stat(folders[0] / "memory.stat").get("inactive_file", 0))
    cores = []
    for folder in folders:
        quota, _, period = (_read(folder / "cpu.max") or "max").partition(" ")
        if quota.isdigit() and period.isdigit() and int(period):
            cores.append(int(quota) / int(period))
    figures.cpu_limit = min(cores) if cores else None
    return figures


def read_v1(memory_folders: list[Path], cpu_folders: list[Path]) -> CgroupFigures:
    figures = CgroupFigures()
    limits: list[int | None] = []
    for folder in memory_folders:
        text = _read(folder / "memory.limit_in_bytes")
        limits.append(int(text) if text and text.isdigit() and int(text) < V1_UNLIMITED else None)
    figures.memory_limit = _tightest(limits)
    usage = _read(memory_folders[0] / "memory.usage_in_bytes")
    if usage and usage.isdigit():
        inactive = _stat(memory_folders[0] / "memory.stat").get("total_inactive_file", 0)
        figures.memory_used = max(0, int(usage) - inactive)
    cores = []
    for folder in cpu_folders:
        quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
        if quota and quota.isdigit() and period and period.isdigit() and int(period):
            cores.append(int(quota) / int(period))
    figures.cpu_limit = min(cores) if cores else None
    return figures


def cgroup_figures(root: Path = ROOT, proc_cgroup: str | None = None) -> CgroupFigures:
    """The memory and CPU limits of this process's cgroup (v2 or v1); empty figures without cgroups."""
    if proc_cgroup is None:
        proc_cgroup = _read(Path("/proc/self/cgroup")) or ""
    paths = own_paths(proc_cgroup)
    if (root / "cgroup.controllers").exists():
        return read_v2(_candidates(root, paths.get("", "/")))
    if (root / "memory").is_dir():
        return read_v1(_candidates(root / "memory", paths.get("memory", "/")),
                       _candidates(root / "cpu", paths.get("cpu", "/")))
    return CgroupFigures()
