"""Workspace profiles (``MLLab.profiles``) and the one place they map onto the spawners.

A profile is what a user may choose on the spawn page: an image with CPU, memory and GPUs,
and some environment.  Users choose a profile by its slug (``{"profile": "gpu"}``), never an
image or a limit of their own.  ``spawner_overrides`` turns a profile into the trait values of
DockerSpawner or KubeSpawner; everything both spawners call by the same name maps once, and
the resources map through `containers` and `pods`, which deployments use too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from jupyterhub.traitlets import ByteSpecification
from traitlets import TraitError

from . import containers, pods
from .resources import Resources

#: Keys a profile dict may hold.
PROFILE_KEYS = {
    "display_name", "slug", "description", "image", "cpu_limit", "cpu_guarantee", "mem_limit",
    "mem_guarantee", "gpus", "node_selector", "tolerations", "environment", "default",
}
#: Spawner traits named alike on DockerSpawner and KubeSpawner (both inherit them from Spawner).
_COMMON_TRAITS = ("image", "cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee", "environment")


@dataclass(frozen=True)
class Profile:
    """One validated entry of ``MLLab.profiles``; memory in bytes, CPUs in cores."""

    display_name: str
    slug: str
    image: str
    description: str = ""
    cpu_limit: float | None = None
    cpu_guarantee: float | None = None
    mem_limit: int | None = None
    mem_guarantee: int | None = None
    gpus: int = 0
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    default: bool = False

    @property
    def resources(self) -> Resources:
        return Resources(cpu_limit=self.cpu_limit, cpu_guarantee=self.cpu_guarantee, mem_limit=self.mem_limit,
                         mem_guarantee=self.mem_guarantee, gpus=self.gpus)

    def summary(self) -> str:
        """What the profile gives, in words, for the spawn page."""
        parts = [self.image]
        if self.cpu_limit:
            parts.append(f"{self.cpu_limit:g} CPU")
        if self.mem_limit:
            parts.append(f"{self.mem_limit / 2**30:g} GiB memory")
        if self.gpus:
            parts.append(f"{self.gpus} GPU" + ("s" if self.gpus > 1 else ""))
        return ", ".join(parts)


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "default"


def _bytes(value: Any, where: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return ByteSpecification().validate(None, value)
    except (TraitError, TypeError, IndexError):
        raise ValueError(f"MLLab.profiles requires {where} to be bytes or a size like '4G', not {value!r}") from None


def _cores(value: Any, where: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        cores = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"MLLab.profiles requires {where} to be a number of CPUs, not {value!r}") from None
    if cores <= 0:
        raise ValueError(f"MLLab.profiles requires {where} to be positive, not {value!r}")
    return cores


def parse_profiles(entries: list[dict], default_image: str) -> list[Profile]:
    """Validate ``MLLab.profiles``; an empty list is one profile of ``default_image`` without limits.

    Raises ``ValueError`` naming the entry and what is wrong with it.  The default profile is
    the one marked ``default``, else the first.
    """
    if not entries:
        return [Profile(display_name="Default", slug="default", image=default_image, default=True)]
    profiles = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"MLLab.profiles requires dicts, entry {index} is {entry!r}")
        unknown = set(entry) - PROFILE_KEYS
        if unknown:
            raise ValueError(f"MLLab.profiles entry {index} has unknown keys {sorted(unknown)}; "
                             f"allowed: {sorted(PROFILE_KEYS)}")
        if not entry.get("display_name"):
            raise ValueError(f"MLLab.profiles requires a display_name in entry {index}")
        where = f"profiles[{index}]"
        gpus = entry.get("gpus") or 0
        if not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 0:
            raise ValueError(f"MLLab.profiles requires {where}.gpus to be a whole number >= 0, not {gpus!r}")
        profiles.append(Profile(
            display_name=str(entry["display_name"]),
            slug=str(entry.get("slug") or _slugify(entry["display_name"])),
            image=str(entry.get("image") or default_image),
            description=str(entry.get("description") or ""),
            cpu_limit=_cores(entry.get("cpu_limit"), f"{where}.cpu_limit"),
            cpu_guarantee=_cores(entry.get("cpu_guarantee"), f"{where}.cpu_guarantee"),
            mem_limit=_bytes(entry.get("mem_limit"), f"{where}.mem_limit"),
            mem_guarantee=_bytes(entry.get("mem_guarantee"), f"{where}.mem_guarantee"),
            gpus=gpus,
            node_selector={str(k): str(v) for k, v in (entry.get("node_selector") or {}).items()},
            tolerations=list(entry.get("tolerations") or []),
            environment={str(k): str(v) for k, v in (entry.get("environment") or {}).items()},
            default=bool(entry.get("default")),
        ))
    slugs = [p.slug for p in profiles]
    if len(set(slugs)) != len(slugs):
        raise ValueError(f"MLLab.profiles requires unique slugs, got {slugs}")
    defaults = [p.slug for p in profiles if p.default]
    if len(defaults) > 1:
        raise ValueError(f"MLLab.profiles allows one default profile, got {defaults}")
    if not defaults:
        profiles[0] = Profile(**{**profiles[0].__dict__, "default": True})
    return profiles


def spawner_overrides(profile: Profile, backend: str) -> dict[str, Any]:
    """Trait values that make a DockerSpawner (``backend="docker"``) or KubeSpawner run ``profile``.

    Dict values are meant to be merged into the spawner's own (as KubeSpawner does with its
    ``kubespawner_override``), so what the admin set there (environment, host config) stays.
    """
    overrides = {name: getattr(profile, name) for name in _COMMON_TRAITS if getattr(profile, name)}
    if backend == "docker":
        host_config = containers.host_config(profile.resources)
        if host_config:
            overrides["extra_host_config"] = host_config
    elif backend == "kubernetes":
        overrides.update(pods.resource_settings(profile.resources))
        if profile.node_selector:
            overrides["node_selector"] = profile.node_selector
        if profile.tolerations:
            overrides["tolerations"] = profile.tolerations
    else:
        raise ValueError(f"no spawner overrides for backend {backend!r}")
    return overrides


def kubespawner_profile_list(profiles: list[Profile]) -> list[dict]:
    """``KubeSpawner.profile_list``: KubeSpawner shows it and refuses anything not in it."""
    return [
        {
            "display_name": p.display_name,
            "slug": p.slug,
            "description": p.description or p.summary(),
            "default": p.default,
            "kubespawner_override": spawner_overrides(p, "kubernetes"),
        }
        for p in profiles
    ]
