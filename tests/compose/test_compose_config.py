"""``config/compose_config.py`` loaded as the hub loads it (nothing starts): the endpoint origin.

``MLLAB_ENDPOINT_URL`` turns the deployments' endpoint origin on: the file sets the three
``DeploymentsApp.endpoint_*`` traits, the hub hands them to the deployments service it starts,
and ``compose.yaml`` publishes the port they name.  Unset, the origin stays off.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mllab.services.deployments.app import DeploymentsApp
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from ..harness import REPO

COMPOSE_FILE = REPO / "config" / "compose.yaml"
HUB_CONFIG = REPO / "config" / "compose_config.py"
#: Where the file reads the passwords the compose file's `secrets` service generates.
SECRETS = 'Path("/run/secrets", name)'
ENDPOINT_URL = "https://endpoints.ml.example.org/"


def load(tmp_path: Path) -> Config:
    """The hub's configuration from the file, its secrets read from a folder of this test."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in ("postgres-password", "minio-password"):
        (secrets / name).write_text(f"{name}-of-the-test\n")
    text = HUB_CONFIG.read_text()
    assert SECRETS in text
    (tmp_path / "jupyterhub_config.py").write_text(text.replace(SECRETS, f"Path({str(secrets)!r}, name)"))
    return PyFileConfigLoader("jupyterhub_config.py", path=str(tmp_path)).load_config()


def deployments_command(c: Config) -> list[str]:
    """The arguments with which the hub starts its deployments service."""
    [service] = [s for s in c.JupyterHub.services if s["name"] == "deployments"]
    module = service["command"].index("mllab.services.deployments")
    return service["command"][module + 1:]


def test_endpoint_origin_is_on_with_its_url(tmp_path, monkeypatch):
    monkeypatch.setenv("MLLAB_ENDPOINT_URL", ENDPOINT_URL)
    c = load(tmp_path)
    assert c.DeploymentsApp.endpoint_port == 8001
    assert c.DeploymentsApp.endpoint_ip == "0.0.0.0"
    assert c.DeploymentsApp.endpoint_url == ENDPOINT_URL
    # The service the hub starts (in the hub's container) reads them from its command line.
    app = DeploymentsApp()
    app.parse_command_line(deployments_command(c))
    assert (app.endpoint_port, app.endpoint_ip, app.endpoint_url) == (8001, "0.0.0.0", ENDPOINT_URL)


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_endpoint_origin_is_off_without_its_url(tmp_path, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("MLLAB_ENDPOINT_URL", raising=False)
    else:
        monkeypatch.setenv("MLLAB_ENDPOINT_URL", value)
    c = load(tmp_path)
    assert not {"endpoint_port", "endpoint_ip", "endpoint_url"} & set(c.DeploymentsApp)
    assert not [arg for arg in deployments_command(c) if arg.startswith("--DeploymentsApp.endpoint_")]


def test_compose_file_publishes_the_endpoint_port_and_passes_its_url():
    hub = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["hub"]
    assert "${MLLAB_ENDPOINT_PORT:-8001}:8001" in hub["ports"]
    assert hub["environment"]["MLLAB_ENDPOINT_URL"] == "${MLLAB_ENDPOINT_URL:-}", "off unless the admin sets it"
    assert "c.DeploymentsApp.endpoint_port = 8001" in HUB_CONFIG.read_text(), "the port the compose file publishes"
