"""What ``mllab up`` does at start-up: ports kept across starts, taken ones replaced."""

from __future__ import annotations

import json
import socket

from mllab.hub.platform import MLLab
from mllab.hub.startup import start_up
from traitlets.config import Config


def ports_of(settings: Config) -> dict[str, int]:
    return {
        "hub": settings.JupyterHub.hub_port,
        "proxy-api": int(settings.ConfigurableHTTPProxy.api_url.rsplit(":", 1)[1]),
        **settings.MLLab.service_ports,
    }


def test_ports_are_kept_across_starts(tmp_path):
    mllab = MLLab(data_dir=str(tmp_path))
    first = ports_of(start_up(mllab, Config()))
    assert set(first) == {"hub", "proxy-api", "registry", "deployments"}
    assert len(set(first.values())) == 4
    assert ports_of(start_up(mllab, Config())) == first
    assert json.loads((tmp_path / "ports.json").read_text()) == first


def test_a_kept_port_taken_meanwhile_is_replaced(tmp_path):
    mllab = MLLab(data_dir=str(tmp_path))
    first = ports_of(start_up(mllab, Config()))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first["hub"]))
        squatter.listen()
        second = ports_of(start_up(mllab, Config()))
    assert second["hub"] != first["hub"]
    assert {k: v for k, v in second.items() if k != "hub"} == {k: v for k, v in first.items() if k != "hub"}


def test_what_the_admin_set_is_left_alone(tmp_path):
    c = Config()
    c.JupyterHub.hub_port = 8081
    settings = start_up(MLLab(data_dir=str(tmp_path)), c)
    assert "hub_port" not in settings.JupyterHub
    assert "hub" not in json.loads((tmp_path / "ports.json").read_text())
