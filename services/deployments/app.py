"""The deployments service: model serving, services and jobs."""

from __future__ import annotations

from ..app import ServiceApp


class DeploymentsApp(ServiceApp):
    """The ``deployments`` service: managed by the hub (``mllab up``), or on its own::

        mllab-deployments --config deployments_config.py --ip 0.0.0.0 --port 8080
    """

    name = "deployments"
    description = "ML Lab Hub deployments"


main = DeploymentsApp.launch_instance
