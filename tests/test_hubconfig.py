"""`configure(c)` is a pure function of the settings, and each setting flows one way."""

from __future__ import annotations

from copy import deepcopy

import pytest
from mllab.hub import configure
from mllab.hub.hubconfig import admin_settings
from mllab.hub.platform import MLLab
from mllab.hub.services import BUILTIN, SERVICE_OPTIONS
from mllab.services.app import ServiceApp
from mllab.services.deployments.app import DeploymentsApp
from traitlets.config import Config


def settings(data_dir) -> Config:
    c = Config()
    c.MLLab.data_dir = str(data_dir)
    c.MLLab.storage = "s3"
    c.MLLab.s3_endpoint_url = "http://minio:9000"
    c.MLLab.s3_access_key_id = "AKIA-test"
    c.MLLab.s3_secret_access_key = "s3-secret"
    c.MLLab.registry_db_url = "postgresql+psycopg://mllab:db-secret@db:5432/registry"
    c.RegistryApp.upload_expiry = 600.0
    c.JupyterHub.load_roles = [{"name": "readers", "users": ["admin"], "scopes": ["read:users"]}]
    return c


def registry_of(c: Config) -> dict:
    return next(s for s in c.JupyterHub.services if s["name"] == "registry")


def test_same_settings_same_config_and_nothing_written(tmp_path):
    data_dir = tmp_path / "data"
    first = configure(settings(data_dir))
    second = configure(settings(data_dir))
    assert first == second
    assert configure(deepcopy(first)) == first, "configuring a configured config changes nothing"
    assert not data_dir.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_second_call_derives_from_the_changed_settings(tmp_path):
    """As under ``mllab up --data-dir X --config FILE``: the file's own configure(c) ran first."""
    c = configure(settings(tmp_path / "from-file"))
    c.MLLab.data_dir = str(tmp_path / "from-command-line")
    c.JupyterHub.cookie_secret_file = "/srv/secret"  # the admin's own, set after the first call
    again = configure(c)
    assert again.JupyterHub.db_url == f"sqlite:///{tmp_path}/from-command-line/jupyterhub.sqlite"
    assert f"--ServiceApp.data_dir={tmp_path}/from-command-line" in registry_of(again)["command"]
    assert again.JupyterHub.cookie_secret_file == "/srv/secret"
    assert [r["name"] for r in again.JupyterHub.load_roles].count("readers") == 1
    assert admin_settings(again).JupyterHub.load_roles == settings(tmp_path).JupyterHub.load_roles


def test_service_settings_are_arguments_and_secrets_stay_off_the_command_line(tmp_path):
    registry = registry_of(configure(settings(tmp_path)))
    command = " ".join(registry["command"])
    assert "--RegistryApp.storage=s3" in command
    assert "--S3Storage.endpoint_url=http://minio:9000" in command
    assert "--RegistryApp.upload_expiry=600.0" in command
    assert "--RegistryApp.db_url=postgresql+psycopg://mllab@db:5432/registry" in command
    assert "secret" not in command
    # Only the libraries' own variables carry secrets.
    assert registry["environment"] == {
        "PGPASSWORD": "db-secret", "AWS_ACCESS_KEY_ID": "AKIA-test", "AWS_SECRET_ACCESS_KEY": "s3-secret",
    }


def test_short_forms_are_passed_on_only_when_set(tmp_path):
    c = Config()
    c.MLLab.data_dir = str(tmp_path)
    command = registry_of(configure(c))["command"]
    assert [arg for arg in command if arg.startswith("--")] == [f"--ServiceApp.data_dir={tmp_path}"]


@pytest.mark.parametrize("option", sorted(SERVICE_OPTIONS))
def test_each_short_form_names_a_real_service_trait(option):
    section, trait = SERVICE_OPTIONS[option].split(".")
    classes = {cls.__name__: cls for b in BUILTIN.values() for cls in (ServiceApp, b.app, *b.app.classes)}
    assert section in classes, f"MLLab.{option} maps to an unknown class {section}"
    assert classes[section].class_traits(config=True).get(trait), f"{section}.{trait} is not a configurable trait"


def test_external_service_is_proxied_not_started(tmp_path):
    c = Config()
    c.MLLab.data_dir = str(tmp_path)
    c.MLLab.services = {"registry": {"url": "http://registry:8080", "api_token": "t" * 32}}
    registry = registry_of(configure(c))
    assert "command" not in registry
    assert registry["url"] == "http://registry:8080"
    assert registry["oauth_no_confirm"] is True, "the platform's OAuth settings stay"


@pytest.mark.parametrize(("option", "value", "installed"), [
    ("backend", "nomad", "docker, kubernetes, local"),
    ("auth", "ldap", "github, gitlab, native, oidc"),
])
def test_short_forms_of_plugins_name_what_is_installed(option, value, installed):
    c = Config()
    c.MLLab[option] = value
    with pytest.raises(ValueError, match=f"MLLab.{option} = '{value}' is not installed: choose one of {installed}"):
        MLLab(config=c)
    c.MLLab[option] = installed.split(", ")[0].upper()
    assert getattr(MLLab(config=c), option) == installed.split(", ")[0]


def test_the_deployments_service_may_read_models_and_nothing_more(tmp_path):
    c = Config()
    c.MLLab.data_dir = str(tmp_path)
    role = next(r for r in configure(c).JupyterHub.load_roles if r["name"] == "deployments-service")
    assert (role["scopes"], role["services"]) == (["custom:models:read"], ["deployments"])
    c.MLLab.services = {"deployments": None}
    assert "deployments-service" not in [r["name"] for r in configure(c).JupyterHub.load_roles]


def test_deployments_fetch_models_from_the_registry_where_the_hub_reaches_it(tmp_path):
    c = Config()
    c.MLLab.data_dir = str(tmp_path)
    c.MLLab.service_ports = {"registry": 12345}
    command = next(s for s in configure(c).JupyterHub.services if s["name"] == "deployments")["command"]
    assert "--DeploymentsApp.registry_url=http://127.0.0.1:12345/services/registry/" in command
    c.MLLab.services = {"registry": {"url": "http://registry:8080", "api_token": "t" * 32}}
    command = next(s for s in configure(c).JupyterHub.services if s["name"] == "deployments")["command"]
    assert "--DeploymentsApp.registry_url=http://registry:8080/services/registry/" in command


def deployments_of(c: Config) -> dict:
    return next(s for s in c.JupyterHub.services if s["name"] == "deployments")


def started_as(command: list[str]) -> DeploymentsApp:
    """The deployments service as the hub starts it (``python -m mllab.services.deployments ARGS``)."""
    assert command[1:3] == ["-m", "mllab.services.deployments"]
    app = DeploymentsApp()
    app.parse_command_line(command[3:])
    return app


@pytest.mark.parametrize("backend", [None, "local", "docker", "kubernetes"],
                         ids=["unset", "local", "docker", "kubernetes"])
def test_deployments_run_where_workspaces_do(tmp_path, backend):
    c = Config()
    c.MLLab.data_dir = str(tmp_path)
    if backend:
        c.MLLab.backend = backend
    command = deployments_of(configure(c))["command"]
    assert f"--DeploymentsApp.workspace_backend={backend or 'local'}" in command
    app = started_as(command)
    assert (app.workspace_backend, app.runtime) == (backend or "local", backend or "local")


def test_an_admins_deployments_runtime_wins(tmp_path):
    c = Config()
    c.MLLab.data_dir = str(tmp_path)
    c.MLLab.backend = "kubernetes"
    c.DeploymentsApp.runtime = "docker"
    assert started_as(deployments_of(configure(c))["command"]).runtime == "docker"


@pytest.mark.parametrize("backend", ["docker", "kubernetes"])
def test_a_local_runtime_under_container_workspaces_is_refused(tmp_path, backend):
    c = Config()
    c.MLLab.data_dir = str(tmp_path)
    c.MLLab.backend = backend
    c.DeploymentsApp.runtime = "local"
    with pytest.raises(ValueError, match=(
        f"DeploymentsApp.runtime = 'local' would run users' deployments as the hub's own OS user while "
        f"MLLab.backend = '{backend}' keeps workspaces apart from it: remove c.DeploymentsApp.runtime"
    )):
        configure(c)
    # Not the hub's to start: a removed or external deployments service has settings of its own.
    for spec in (None, {"url": "http://deployments:8080", "api_token": "t" * 32}):
        c.MLLab.services = {"deployments": spec}
        configure(c)
