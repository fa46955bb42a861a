"""Stand-in for z2jh's ``z2jh`` module (the hub image's helpers), written for these tests.

z2jh mounts the chart's values and generated secrets from its Secret at
``/usr/local/etc/jupyterhub/secret/``; here they are in ``secret/`` next to this file.  The
functions have z2jh's names and meaning: ``get_config("a.b", default)`` reads the values,
``get_secret_value(key)`` a key of the hub's Secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SECRET = Path(__file__).parent / "secret"


def get_config(key: str, default: Any = None) -> Any:
    value: Any = yaml.safe_load((SECRET / "values.yaml").read_text())
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value


def get_secret_value(key: str) -> str:
    return (SECRET / key).read_text()
