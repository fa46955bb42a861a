"""What a workload may use (CPUs, memory, GPUs): one description for containers and pods."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resources:
    """CPUs in cores, memory in bytes, NVIDIA GPUs; ``None`` (or 0 GPUs) asks for nothing.

    A limit is the most a workload may use; a guarantee what it is sure to get (a
    Kubernetes request; Docker's soft equivalents, see `containers.host_config`).
    """

    cpu_limit: float | None = None
    cpu_guarantee: float | None = None
    mem_limit: int | None = None
    mem_guarantee: int | None = None
    gpus: int = 0
