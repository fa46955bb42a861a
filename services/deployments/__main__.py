"""``python -m mllab.services.deployments``: how the hub starts the service."""

from .app import main

main()
