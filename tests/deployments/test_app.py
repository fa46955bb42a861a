"""The service's own settings: where deployments run follows where workspaces do."""

from __future__ import annotations

import pytest
from mllab.services.deployments.app import DeploymentsApp


@pytest.mark.parametrize(("workspace_backend", "runtime"), [
    pytest.param("local", "local", id="local"),
    pytest.param("docker", "docker", id="docker"),
    pytest.param("kubernetes", "kubernetes", id="kubernetes"),
    pytest.param("Docker", "docker", id="any-case"),
    pytest.param("", "local", id="unknown"),
    pytest.param("nomad", "local", id="backend-without-runtime"),
])
def test_the_runtime_follows_the_workspace_backend(workspace_backend, runtime):
    assert DeploymentsApp(workspace_backend=workspace_backend).runtime == runtime


def test_an_admins_runtime_wins():
    assert DeploymentsApp(workspace_backend="docker", runtime="kubernetes").runtime == "kubernetes"
    app = DeploymentsApp()
    app.parse_command_line(["--DeploymentsApp.workspace_backend=kubernetes", "--runtime=docker"])
    assert (app.workspace_backend, app.runtime) == ("kubernetes", "docker")


def test_on_its_own_the_service_knows_no_workspace_backend():
    """Nobody said where workspaces run: the local runtime, which serves models but runs no commands."""
    app = DeploymentsApp()
    assert (app.workspace_backend, app.runtime) == ("", "local")
