"""The workspace's figures: CPU, memory, disk, network (psutil, cgroup limits) and GPUs (NVML).

Plain functions with explicit arguments; the handler calls :func:`collect` in a thread.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil

from .cgroup import CgroupFigures, cgroup_figures
from .gpu import NO_GPU, gpu_figures


def workspace_processes(root: psutil.Process | None = None) -> list[psutil.Process]:
    """The workspace's server (this process by default) and everything it started: kernels, terminals, tools."""
    root = root or psutil.Process()
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return [root]


def cpu_figures(processes: list[psutil.Process], interval: float = 0.2,
                limit: float | None = None) -> dict:
    """Percent busy per core over ``interval`` seconds, and the workspace processes' share.

    ``workspace_percent`` is in psutil's unit: 100 is one core fully busy.
    """
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.cpu_percent(None)
    per_core = psutil.cpu_percent(interval=interval, percpu=True)
    workspace = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            workspace += process.cpu_percent(None)
    return {
        "count": psutil.cpu_count() or len(per_core),
        "percent": [round(p, 1) for p in per_core],
        "workspace_percent": round(workspace, 1),
        "limit": limit,
    }


def memory_figures(processes: list[psutil.Process], cgroup: CgroupFigures) -> dict:
    """Memory in bytes: ``used``/``total`` are the cgroup's when it has a limit, else the machine's.

    ``processes`` is the resident memory of the workspace's own processes; ``machine`` the host's.
    """
    rss = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            rss += process.memory_info().rss
    machine = psutil.virtual_memory()
    machine_used = machine.total - machine.available
    if cgroup.memory_limit and cgroup.memory_limit < machine.total:
        used = cgroup.memory_used if cgroup.memory_used is not None else rss
        total, source = cgroup.memory_limit, "cgroup"
    else:
        used, total, source = machine_used, machine.total, "machine"
    return {
        "used": used,
        "total": total,
        "limit_source": source,
        "processes": rss,
        "machine": {"used": machine_used, "total": machine.total},
    }


def disk_figures(path: str | os.PathLike) -> dict:
    """The filesystem holding ``path`` (the home): bytes used and total."""
    usage = psutil.disk_usage(str(path))
    return {"path": str(path), "used": usage.used, "total": usage.total, "percent": usage.percent}


def network_figures() -> dict:
    """Bytes sent and received since boot over every interface except loopback."""
    sent = received = 0
    for name, counters in psutil.net_io_counters(pernic=True).items():
        if name == "lo" or name.startswith("lo"):
            continue
        sent += counters.bytes_sent
        received += counters.bytes_recv
    return {"bytes_sent": sent, "bytes_recv": received}


def collect(home: str | os.PathLike | None = None, nvml=None, interval: float = 0.2,
            root: psutil.Process | None = None, cgroup: CgroupFigures | None = None) -> dict:
    """Every figure of the workspace in one JSON-ready dict (what ``/api/mllab/monitor`` answers).

    ``nvml`` is an initialised ``pynvml`` module (see :func:`.gpu.load_nvml`), or ``None`` with no GPU.
    """
    cgroup = cgroup if cgroup is not None else cgroup_figures()
    processes = workspace_processes(root)
    gpus = gpu_figures(nvml) if nvml is not None else []
    return {
        "cpu": cpu_figures(processes, interval=interval, limit=cgroup.cpu_limit),
        "memory": memory_figures(processes, cgroup),
        "disk": disk_figures(home or Path.home()),
        "network": network_figures(),
        "gpus": gpus,
        "gpu": f"{len(gpus)} NVIDIA GPU{'s' if len(gpus) != 1 else ''}" if gpus else NO_GPU,
    }
