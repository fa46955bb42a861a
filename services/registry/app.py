"""The registry service: datasets and models, versioned, deduplicated, shared."""

from __future__ import annotations

from ..app import ServiceApp


class RegistryApp(ServiceApp):
    name = "registry"
    description = "ML Lab Hub dataset and model registry"


main = RegistryApp.launch_instance
