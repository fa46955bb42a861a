"""``python -m mllab.services.deployments``: how the hub starts the service."""

# The hub's package first: it imports this service's application (hub/services.py), and this
# service's runtimes import the hub's backends; entering from the hub's side keeps that cycle whole.
import mllab.hub  # noqa: F401

from .app import main

main()
