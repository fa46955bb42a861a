"""The deployments service: model serving, services and jobs."""
