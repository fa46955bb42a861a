"""Stand-in for z2jh 4.4.0's ``jupyterhub_config.py``, written for these tests: the part of it
that the chart depends on, in the same order.

z2jh's chart cannot be fetched here, so its own file cannot run.  What it does that matters to
helm/mllab: it sets KubeSpawner and its options from ``singleuser`` (image, an empty
``profileList``, its labels), the placeholder login ``dummy`` comes from its default
``hub.config``, ``hub.services`` become ``c.JupyterHub.services`` with each ``api_token`` read
from the hub's Secret key ``hub.services.<name>.apiToken``, ``hub.config`` sections pass
through to traitlets, and last the ``hub.extraConfig`` snippets run, sorted by key.
"""

import os
import sys

c = get_config()  # noqa: F821 - provided by the traitlets loader, as for any jupyterhub_config.py

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from z2jh import get_config, get_secret_value  # noqa: E402

c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
c.JupyterHub.hub_bind_url = "http://:8081"
c.JupyterHub.hub_connect_url = "http://hub:8081"
c.JupyterHub.template_paths = get_config("hub.templatePaths")
c.KubeSpawner.common_labels = {
    "app": "jupyterhub",
    "release": get_config("Release.Name"),
    "app.kubernetes.io/managed-by": "kubespawner",
}
c.KubeSpawner.image = f"{get_config('singleuser.image.name')}:{get_config('singleuser.image.tag')}"
c.KubeSpawner.profile_list = get_config("singleuser.profileList")
c.JupyterHub.cookie_secret = get_secret_value("hub.config.JupyterHub.cookie_secret")

c.JupyterHub.services = []
c.JupyterHub.load_roles = []
if get_config("cull.enabled"):
    culler = ["python3", "-m", "jupyterhub_idle_culler"]
    c.JupyterHub.services.append({"name": "jupyterhub-idle-culler", "command": culler})
for key, service in get_config("hub.services", {}).items():
    service.setdefault("name", key)
    service.pop("apiToken", None)
    service["api_token"] = get_secret_value(f"hub.services.{key}.apiToken")
    c.JupyterHub.services.append(service)

for section, settings in get_config("hub.config", {}).items():
    c[section].update(settings)

for _key, code in sorted(get_config("hub.extraConfig", {}).items()):
    exec(code)
