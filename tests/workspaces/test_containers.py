"""``mllab.hub.backends.containers``: what starts a container, for workspaces and deployments."""

from __future__ import annotations

import docker.errors
import pytest
import requests
from mllab.hub.backends import containers
from mllab.hub.backends.resources import Resources


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (Resources(), {}),
        (Resources(mem_limit=2**30), {"mem_limit": 2**30}),
        (Resources(cpu_limit=1.5), {"cpu_period": 100_000, "cpu_quota": 150_000}),
        (Resources(cpu_guarantee=0.5, mem_guarantee=2**29), {"cpu_shares": 512, "mem_reservation": 2**29}),
        (Resources(gpus=2), {"device_requests": [{"Driver": "nvidia", "Count": 2, "Capabilities": [["gpu"]]}]}),
    ],
    ids=["nothing", "memory", "cpu", "guarantees", "gpus"],
)
def test_host_config(resources, expected):
    assert containers.host_config(resources) == expected


def test_host_config_is_what_the_engine_takes():
    """The keys are ``APIClient.create_host_config``'s own arguments."""
    config = containers.host_config(Resources(cpu_limit=2, cpu_guarantee=1, mem_limit=2**30, mem_guarantee=2**29,
                                              gpus=1))
    host = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.41").create_host_config(**config)
    assert host["Memory"] == 2**30
    assert host["CpuQuota"] == 200_000
    assert host["MemoryReservation"] == 2**29
    assert host["CpuShares"] == 1024
    assert host["DeviceRequests"][0]["Count"] == 1


def test_labels():
    assert containers.labels("workspace", user="alice") == {"org.mllab.role": "workspace", "org.mllab.user": "alice"}
    assert containers.labels("workspaces") == {"org.mllab.role": "workspaces"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"username": "alice"}, "mllab-home-alice"),
        ({"username": "Ann.Lee"}, "mllab-home--41nn-2e-4cee"),
        ({"username": "a-b"}, "mllab-home-a-2db"),  # "-" itself is escaped: distinct names stay distinct
    ],
    ids=["plain", "upper-and-dot", "dash"],
)
def test_volume_name(fields, expected):
    assert containers.volume_name("mllab-home-{username}", **fields) == expected


def test_escape_is_dockerspawners():
    from dockerspawner import DockerSpawner

    for name in ("alice", "Ann.Lee", "a-b", "ünï@example.org"):
        assert containers.escape(name) == DockerSpawner._escape(name)


class FakeEngine:
    """The two network calls of ``docker.APIClient`` that `ensure_network` makes."""

    def __init__(self, names: list[str], create_fails_with: int | None = None) -> None:
        self.names = names
        self.created: list[tuple[str, dict]] = []
        self.create_fails_with = create_fails_with

    def networks(self, names: list[str]) -> list[dict]:
        # As the engine does: the name filter matches substrings.
        return [{"Name": n} for n in self.names if any(wanted in n for wanted in names)]

    def create_network(self, name: str, driver: str, labels: dict) -> None:
        if self.create_fails_with:
            response = requests.Response()
            response.status_code = self.create_fails_with
            raise docker.errors.APIError("refused", response=response)
        assert driver == "bridge"
        self.created.append((name, labels))
        self.names.append(name)


def test_ensure_network_creates_it_once():
    engine = FakeEngine(["mllab-other"])  # a longer name containing "mllab" is not "mllab"
    assert containers.ensure_network(engine, "mllab", {"org.mllab.role": "workspaces"}) is True
    assert engine.created == [("mllab", {"org.mllab.role": "workspaces"})]
    assert containers.ensure_network(engine, "mllab", {}) is False
    assert len(engine.created) == 1


@pytest.mark.parametrize("name", ["bridge", "host", "none"])
def test_ensure_network_leaves_the_engines_own(name):
    engine = FakeEngine([])
    assert containers.ensure_network(engine, name, {}) is False
    assert engine.created == []


def test_ensure_network_created_meanwhile_is_fine():
    assert containers.ensure_network(FakeEngine([], create_fails_with=409), "mllab", {}) is False
    with pytest.raises(docker.errors.APIError):
        containers.ensure_network(FakeEngine([], create_fails_with=500), "mllab", {})
