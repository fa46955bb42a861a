"""The hub's configuration under the helm chart (``helm/mllab``), over Zero-to-JupyterHub's.

z2jh's ``jupyterhub_config.py`` runs first: it passes the values' ``hub.config`` sections
through (so ``c.MLLab`` holds the chart's platform options), declares ``hub.services`` as
``c.JupyterHub.services`` with the API tokens it generated into its Secret, and sets its
KubeSpawner options.  The chart's ``hub.extraConfig`` then calls `configure_chart`, which
hands the platform what z2jh set in its stead and derives the rest with `configure`.
"""

from __future__ import annotations

from traitlets.config import Config

from .backends import pods
from .hubconfig import configure
from .services import BUILTIN

#: z2jh's defaults that stand in for what the platform derives; a value other than these is
#: the admin's choice and stays.  ``dummy`` is z2jh's placeholder login (any password).
Z2JH_DEFAULTS = {
    ("JupyterHub", "authenticator_class"): "dummy",
    ("JupyterHub", "spawner_class"): "kubespawner.KubeSpawner",
    ("JupyterHub", "template_paths"): [],
    ("KubeSpawner", "profile_list"): [],
}


def configure_chart(c: Config) -> Config:
    """Turn the configuration z2jh loaded into the platform's, then `configure` it.

    - z2jh's stand-ins (`Z2JH_DEFAULTS`) give way to the platform's login, spawner, page
      templates and profiles (``MLLab.profiles``).
    - The workspace image is z2jh's ``singleuser.image`` unless ``MLLab.workspace_image`` is set.
    - ``registry`` and ``deployments`` declared in ``hub.services`` (with z2jh's tokens)
      become ``MLLab.services`` entries: external services that keep the platform's OAuth
      scopes and roles.  Other services stay as z2jh declared them.
    - Workspace pods carry the platform's labels beside z2jh's, which its NetworkPolicies select.
    """
    for (section, key), z2jh_default in Z2JH_DEFAULTS.items():
        if section in c and key in c[section] and c[section][key] == z2jh_default:
            del c[section][key]

    if "workspace_image" not in c.MLLab and "image" in c.KubeSpawner:
        c.MLLab.workspace_image = c.KubeSpawner.image

    declared = c.JupyterHub.get("services", [])
    builtins = {spec["name"]: spec for spec in declared if spec.get("name") in BUILTIN}
    if builtins:
        chart_services = {name: {k: v for k, v in spec.items() if k != "name"} for name, spec in builtins.items()}
        # What the admin set on MLLab.services goes over the chart's declaration (None removes).
        for name, spec in c.MLLab.get("services", {}).items():
            chart_services[name] = None if spec is None else {**chart_services.get(name, {}), **spec}
        c.MLLab.services = chart_services
        c.JupyterHub.services = [spec for spec in declared if spec.get("name") not in BUILTIN]

    if "common_labels" in c.KubeSpawner:
        c.KubeSpawner.common_labels = {**pods.LABELS, **c.KubeSpawner.common_labels}
    return configure(c)
