"""Finding the hub, the registry and the token from arguments and the environment."""

from __future__ import annotations

import pytest
from mllab.client.config import hub_url_from_api_url, settings_from_env, workspace_from_env
from mllab.client.errors import ConfigError

WORKSPACE = {
    "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api",
    "JUPYTERHUB_API_TOKEN": "ws-token",
}


@pytest.mark.parametrize(
    ("env", "hub", "hub_api", "registry", "token"),
    [
        pytest.param(
            {"MLLAB_URL": "https://lab.example.org", "MLLAB_TOKEN": "t"},
            "https://lab.example.org/", "https://lab.example.org/hub/api/",
            "https://lab.example.org/services/registry/", "t", id="laptop",
        ),
        pytest.param(
            {"MLLAB_URL": "https://example.org/lab/", "MLLAB_TOKEN": "t"},
            "https://example.org/lab/", "https://example.org/lab/hub/api/",
            "https://example.org/lab/services/registry/", "t", id="hub-under-a-prefix",
        ),
        pytest.param(
            WORKSPACE,
            "http://127.0.0.1:8081/", "http://127.0.0.1:8081/hub/api/",
            "http://127.0.0.1:8081/services/registry/", "ws-token", id="workspace-hub-env-only",
        ),
        pytest.param(
            {**WORKSPACE, "MLLAB_URL": "https://lab.example.org/",
             "MLLAB_REGISTRY_URL": "https://lab.example.org/services/registry/"},
            "https://lab.example.org/", "http://127.0.0.1:8081/hub/api/",
            "https://lab.example.org/services/registry/", "ws-token", id="workspace-with-platform-env",
        ),
        pytest.param(
            {**WORKSPACE, "MLLAB_URL": "https://other.example.org/", "MLLAB_TOKEN": "mine"},
            "https://other.example.org/", "https://other.example.org/hub/api/",
            "https://other.example.org/services/registry/", "mine", id="own-token-wins-in-a-workspace",
        ),
        pytest.param(
            {"MLLAB_URL": "http://hub:8000/", "MLLAB_TOKEN": "t", "MLLAB_REGISTRY_URL": "http://registry:9000"},
            "http://hub:8000/", "http://hub:8000/hub/api/", "http://registry:9000/", "t", id="registry-override",
        ),
    ],
)
def test_settings_from_env(env, hub, hub_api, registry, token):
    settings = settings_from_env(env)
    assert (settings.hub_url, settings.hub_api_url, settings.registry_url, settings.token) == (
        hub, hub_api, registry, token)


def test_arguments_beat_the_environment():
    settings = settings_from_env(
        {"MLLAB_URL": "http://env/", "MLLAB_TOKEN": "env"}, url="http://arg:1", token="arg",
        registry_url="http://reg:2/x",
    )
    assert (settings.hub_url, settings.token, settings.registry_url) == ("http://arg:1/", "arg", "http://reg:2/x/")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({}, "No ML Lab Hub configured", id="nothing"),
        pytest.param({"MLLAB_TOKEN": "t"}, "No ML Lab Hub configured", id="token-without-url"),
        pytest.param({"MLLAB_URL": "http://hub/"}, "No token for http://hub/", id="url-without-token"),
        pytest.param({"MLLAB_URL": "hub.example.org", "MLLAB_TOKEN": "t"}, "must be an http", id="no-scheme"),
        pytest.param({"MLLAB_URL": "ftp://hub/", "MLLAB_TOKEN": "t"}, "must be an http", id="wrong-scheme"),
    ],
)
def test_missing_or_bad_configuration_says_what_to_set(env, message):
    with pytest.raises(ConfigError, match=message) as info:
        settings_from_env(env)
    assert "MLLAB_URL" in str(info.value)


@pytest.mark.parametrize(
    ("api_url", "hub"),
    [
        pytest.param("http://hub:8081/hub/api", "http://hub:8081/", id="plain"),
        pytest.param("http://hub:8081/hub/api/", "http://hub:8081/", id="trailing-slash"),
        pytest.param("https://x.org/prefix/hub/api", "https://x.org/prefix/", id="base-url"),
    ],
)
def test_hub_url_from_api_url(api_url, hub):
    assert hub_url_from_api_url(api_url) == hub


@pytest.mark.parametrize(
    ("env", "workspace"),
    [
        pytest.param({"JUPYTERHUB_SERVER_NAME": "gpu", "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-a-gpu"}, "gpu",
                     id="named-server"),
        pytest.param({"JUPYTERHUB_SERVER_NAME": "", "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-a"},
                     "jupyterhub-user-a", id="default-server"),
        pytest.param({}, None, id="not-in-a-workspace"),
    ],
)
def test_workspace_from_env(env, workspace):
    assert workspace_from_env(env) == workspace
