"""The chart loaded with the real Helm SDK (``helm_python``, Helm's Go SDK), and its values.

There is no cluster and no ``helm`` binary here, and the z2jh dependency cannot be fetched,
so these tests render and lint ``helm/mllab``'s own templates only; z2jh's templates are not
rendered (see `z2jh` for how the hub configuration is still executed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..harness import REPO, require

try:
    import helm_python as helm
except ImportError:  # failed below, test by test, with the command that installs it
    helm = None

CHART = REPO / "helm" / "mllab"
PRODUCTION_VALUES = CHART / "examples" / "production-values.yaml"
RELEASE = NAMESPACE = "mllab"
#: The Kubernetes version the rendered objects are validated against.
KUBERNETES_VERSION = "1.33.0"


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def render(chart: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Every object the chart renders with ``values`` (over its values.yaml), as dicts."""
    documents = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    return [obj for path, text in documents.items() if path.endswith(".yaml")
            for obj in yaml.safe_load_all(text) if obj]


def find(objects: list[dict], kind: str, name: str) -> dict:
    matches = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def coalesce(base: Any, override: Any) -> Any:
    """``override`` over ``base`` as Helm merges values files: maps merge, null removes a key."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return override
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = coalesce(base.get(key), value)
    return merged


@pytest.fixture(scope="session", autouse=True)
def helm_installed() -> None:
    """Every test here needs Helm's SDK: a missing one fails them (a skip would pass a run that rendered nothing)."""
    require(helm, "helm-python-sdk (Helm's SDK, the test extra)", "make setup")


@pytest.fixture(scope="session")
def chart() -> Iterator[Any]:
    with helm.Chart.load(str(CHART)) as loaded:
        yield loaded


#: The two installs every test checks: the defaults, and the README's production values file.
SETUPS = {"default": {}, "production": load_yaml(PRODUCTION_VALUES)}


@pytest.fixture(params=sorted(SETUPS))
def install(request) -> tuple[str, dict[str, Any]]:
    """``(name, user values)`` of each install."""
    return request.param, SETUPS[request.param]
