"""The deployments service: model serving, services and jobs."""

from __future__ import annotations

from ..app import ServiceApp


class DeploymentsApp(ServiceApp):
    name = "deployments"
    description = "ML Lab Hub deployments"


main = DeploymentsApp.launch_instance
