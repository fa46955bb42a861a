"""The hub configuration the chart produces, executed by JupyterHub's own config loader.

z2jh's chart cannot be fetched here, so its ``jupyterhub_config.py`` is replaced by the
stand-in in ``z2jh_hub/`` (the parts of it the chart depends on); the values it reads are the
ones Helm would hand z2jh (its defaults that matter, under our values.yaml's ``jupyterhub:``,
under the install's), and the hub Secret holds tokens generated as z2jh generates them.  The
chart's ``hub.extraConfig`` then runs as written in values.yaml, importing the real
``mllab.hub.chart``.  No hub starts: what is checked is the configuration it would start with.
"""

from __future__ import annotations

import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

import kubernetes_asyncio.config.kube_config
import pytest
import yaml
from jupyterhub.app import JupyterHub
from traitlets.config import Config

from ..workspaces.test_kubernetes import KUBECONFIG
from ..workspaces.test_kubernetes import render as render_workspace
from .conftest import CHART, NAMESPACE, RELEASE, coalesce, find, load_yaml, render

STAND_IN = Path(__file__).parent / "z2jh_hub"
#: z2jh 4.4.0's defaults (its values.yaml) that its jupyterhub_config.py reads and the chart relies on.
Z2JH_DEFAULTS = {
    "hub": {
        "config": {"JupyterHub": {"admin_access": True, "authenticator_class": "dummy"}},
        "services": {},
        "extraConfig": {},
        "templatePaths": [],
    },
    "singleuser": {"image": {"name": "quay.io/jupyterhub/k8s-singleuser-sample", "tag": "4.4.0"}, "profileList": []},
    "cull": {"enabled": True},
}


def load_hub_config(folder: Path, install_values: dict[str, Any]) -> tuple[Config, dict[str, str]]:
    """The hub's config as ``jupyterhub -f`` loads it under the chart, and the services' tokens."""
    chart_values = load_yaml(CHART / "values.yaml")["jupyterhub"]
    values = coalesce(coalesce(Z2JH_DEFAULTS, chart_values), install_values.get("jupyterhub", {}))
    values["Release"] = {"Name": RELEASE, "Namespace": NAMESPACE}
    shutil.copytree(STAND_IN, folder, ignore=shutil.ignore_patterns("__pycache__"))
    secret = folder / "secret"
    secret.mkdir()
    (secret / "values.yaml").write_text(yaml.safe_dump(values))
    (secret / "hub.config.JupyterHub.cookie_secret").write_text(secrets.token_hex(32))
    tokens = {name: secrets.token_hex(32) for name in values["hub"]["services"]}
    for name, token in tokens.items():
        (secret / f"hub.services.{name}.apiToken").write_text(token)
    sys.modules.pop("z2jh", None)  # each install reads its own folder
    try:
        hub = JupyterHub()
        hub.load_config_file(str(folder / "z2jh_config.py"))
    finally:
        sys.modules.pop("z2jh", None)
    return hub.config, tokens


@pytest.fixture
def hub_config(tmp_path, install, monkeypatch) -> tuple[str, Config, dict[str, str]]:
    name, values = install
    # KubeSpawner loads a client configuration when constructed: one naming no real cluster.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    monkeypatch.setattr(kubernetes_asyncio.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    # The production install's hub gets its OAuth client secret from a Secret (hub.extraEnv).
    monkeypatch.setenv("MLLAB_OAUTH_CLIENT_SECRET", "from-the-mllab-oidc-secret")
    config, tokens = load_hub_config(tmp_path / "hub", values)
    return name, config, tokens


def test_services_are_external_with_z2jh_tokens(hub_config):
    _, c, tokens = hub_config
    services = {spec["name"]: spec for spec in c.JupyterHub.services}
    for name in ("registry", "deployments"):
        spec = services[name]
        assert spec["api_token"] == tokens[name]
        assert spec["url"] == f"http://mllab-{name}:8080"
        assert "command" not in spec, f"{name} runs in its own pod; the hub must not start it"
        assert "environment" not in spec
    assert "custom:models:read" in services["registry"]["oauth_client_allowed_scopes"]
    assert "custom:deployments:invoke" in services["deployments"]["oauth_client_allowed_scopes"]
    # One culler: the platform's, z2jh's is off in the chart's values.
    assert "idle-culler" in services and "jupyterhub-idle-culler" not in services


def test_the_culler_may_reach_the_hub_api():
    """The culler runs in the hub pod and calls http://hub:8081 through the hub's Service, which
    z2jh's hub NetworkPolicy opens only to pods labelled network-access-hub: the hub pod must be."""
    labels = load_yaml(CHART / "values.yaml")["jupyterhub"]["hub"]["labels"]
    assert labels["hub.jupyter.org/network-access-hub"] == "true"


def test_the_deployments_service_has_its_least_privilege_role(hub_config):
    _, c, _ = hub_config
    roles = {role["name"]: role for role in c.JupyterHub.load_roles}
    assert roles["deployments-service"]["services"] == ["deployments"]
    assert roles["deployments-service"]["scopes"] == ["custom:models:read"]
    assert "custom:models:read" in c.JupyterHub.custom_scopes


def test_z2jh_placeholders_give_way_to_the_platform(hub_config):
    name, c, _ = hub_config
    assert c.JupyterHub.spawner_class == "mllab-kubernetes"
    assert c.JupyterHub.authenticator_class == ("mllab-oidc" if name == "production" else "mllab-native")
    assert c.JupyterHub.template_paths and c.JupyterHub.template_paths[0].endswith("templates")
    # What z2jh set and the platform does not derive stays z2jh's.
    assert c.JupyterHub.db_url == "sqlite:///jupyterhub.sqlite"
    assert c.JupyterHub.hub_connect_url == "http://hub:8081"


def test_service_pods_read_the_tokens_the_hub_declares(chart, hub_config):
    """The services' pods take ``JUPYTERHUB_API_TOKEN`` from the hub Secret key whose value the hub uses."""
    name, _, _ = hub_config
    objects = render(chart, load_yaml(CHART / "examples" / "production-values.yaml") if name == "production" else {})
    for service in ("registry", "deployments"):
        pod = find(objects, "Deployment", f"mllab-{service}")["spec"]["template"]["spec"]
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {
            "name": "hub", "key": f"hub.services.{service}.apiToken"}
        assert env["JUPYTERHUB_API_URL"]["value"] == "http://hub:8081/hub/api"


async def test_workspace_profiles_from_the_values(hub_config):
    """Each profile of the values is a KubeSpawner profile; its pod (KubeSpawner's own manifest,
    valid for Kubernetes) gets the profile's image and resources."""
    name, c, _ = hub_config
    pod, _, spawner = await render_workspace(c, {})
    profiles = {p["slug"]: p for p in spawner.profile_list}
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "notebook")
    if name == "default":
        assert list(profiles) == ["small", "large"]
        assert container["image"] == "mllab/workspace:0.1.0", "a profile without image runs singleuser.image"
        assert container["resources"]["limits"] == {"cpu": 2, "memory": 4 * 2**30}
        assert container["resources"]["requests"] == {"cpu": 0.5, "memory": 2**30}
    else:
        assert list(profiles) == ["cpu", "gpu"]
        pod, _, _ = await render_workspace(c, {"profile": "gpu"})
        container = next(c for c in pod["spec"]["containers"] if c["name"] == "notebook")
        assert container["image"] == "registry.example.org/mllab/workspace-cuda:0.1.0"
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert pod["spec"]["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB"}
        assert any(t["key"] == "nvidia.com/gpu" for t in pod["spec"]["tolerations"])


async def test_workspace_pods_keep_z2jh_labels(hub_config):
    """z2jh's NetworkPolicies select user pods by its labels; the platform's label joins them."""
    _, c, _ = hub_config
    pod, _, _ = await render_workspace(c, {})
    labels = pod["metadata"]["labels"]
    assert labels["release"] == RELEASE and labels["app"] == "jupyterhub"
    assert labels["component"] == "singleuser-server"
    assert labels["app.kubernetes.io/part-of"] == "mllab"


def test_admin_settings_win_over_the_charts(tmp_path):
    """An MLLab.services entry in the values goes over the chart's declaration of that service
    (its token stays); an authenticator other than z2jh's placeholder is the admin's choice."""
    values = {"jupyterhub": {"hub": {"config": {
        "MLLab": {"services": {"registry": {"oauth_no_confirm": False}}},
        "JupyterHub": {"authenticator_class": "mllab-github"},
    }}}}
    c, tokens = load_hub_config(tmp_path / "hub", values)
    registry = next(spec for spec in c.JupyterHub.services if spec["name"] == "registry")
    assert registry["oauth_no_confirm"] is False
    assert registry["api_token"] == tokens["registry"] and registry["url"] == "http://mllab-registry:8080"
    assert c.JupyterHub.authenticator_class == "mllab-github"
