"""The workspace's side of the JupyterLab extension: a Jupyter server extension.

The front end (``@mllab/jupyterlab``) holds no token for the platform's services; it calls
these routes of its own server, which act with the workspace's hub token through
:mod:`mllab.client` (``docs/workspace-tools.md`` describes the routes):

- ``mllab/api/context``: the user, their namespaces and the platform's public prefixes;
- ``mllab/api/services/<registry|deployments>/<path>``: the services' JSON APIs, passed through;
- ``mllab/api/endpoints/<users|groups>/<owner>/<name>/<path>``: a deployment's endpoint (predictions);
- ``mllab/api/transfers``: pushes of workspace files to the registry and pulls into the
  workspace, in the background, with progress.

The wheel enables it with ``etc/jupyter/jupyter_server_config.d/mllab-lab.json``, so every
workspace's server loads it with no configuration.
"""

from __future__ import annotations

from .handlers import handlers
from .state import LabState


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "mllab.extensions.lab"}]


def _load_jupyter_server_extension(serverapp) -> None:
    state = LabState(serverapp.root_dir)
    serverapp.web_app.settings["mllab_lab"] = state
    serverapp.web_app.add_handlers(".*$", handlers(serverapp.web_app.settings["base_url"]))
    serverapp.log.info("ML Lab routes at %smllab/api/ (files under %s)", serverapp.base_url, state.root_dir)


def _unload_jupyter_server_extension(serverapp) -> None:
    serverapp.web_app.settings["mllab_lab"].close()
