# ML Lab Hub on one server with Docker: the hub configuration of config/compose.yaml.
#
# The compose file mounts this file into the hub's container and starts
# `mllab up --config` with it.  Edit it as you would config/jupyterhub_config.py (every
# option: `python -m mllab.hub.options`), then `docker compose -f config/compose.yaml up -d`
# again.  Passwords are read from the files the compose file's `secrets` service generated
# on first start (/run/secrets in each container); none is written here.

import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file


def secret(name: str) -> str:
    return Path("/run/secrets", name).read_text().strip()


# State that is not in PostgreSQL (cookie secret, proxy token, the admin's generated
# password, upload staging) lives on the hub's volume.
c.MLLab.data_dir = "/srv/mllab"

# The address people (and their workspaces) reach the published hub port at.
public_url = os.environ.get("MLLAB_PUBLIC_URL", "http://localhost:8000").rstrip("/")
c.MLLab.public_url = public_url

# One PostgreSQL database for the hub, the registry and the deployments: each keeps its own
# tables and its own migration history, applied when it starts.
database = f"postgresql+psycopg://mllab:{secret('postgres-password')}@postgres:5432/mllab"
c.MLLab.db_url = database
c.MLLab.registry_db_url = database
c.DeploymentsApp.db_url = database

# Artifacts in MinIO; the registry makes the bucket at start.  Presigned URLs carry the
# public URL: the proxy routes /<bucket>/ to MinIO, so clients upload and download through
# the hub's port, straight to MinIO (the Host header, which the URL is signed for, is kept).
bucket = "mllab"
c.MLLab.storage = "s3"
c.MLLab.s3_bucket = bucket
c.MLLab.s3_endpoint_url = "http://minio:9000"
c.MLLab.s3_public_endpoint_url = public_url
c.MLLab.s3_access_key_id = "mllab"  # MinIO's root user, as config/compose.yaml names it
c.MLLab.s3_secret_access_key = secret("minio-password")
c.Proxy.extra_routes = {f"/{bucket}/": "http://minio:9000"}

# Workspaces: sibling containers on the compose file's workspaces network, started through the
# mounted Docker socket; they reach the hub at its service name, `hub`.
c.MLLab.backend = "docker"
c.MLLab.workspace_image = os.environ.get("MLLAB_WORKSPACE_IMAGE", "mllab/workspace:latest")
# MLLAB_NAME (config/compose.yaml) names the network, and prefixes the workspaces' containers and
# home volumes and the deployments' workloads, so two installations can share one engine.
name = os.environ.get("MLLAB_NAME", "mllab")
c.MLLabDockerSpawner.network_name = name
c.MLLabDockerSpawner.prefix = name
c.MLLabDockerSpawner.home_volume = name + "-home-{username}"
c.Runtime.instance = name
c.MLLabDockerSpawner.hub_host = "hub"
# A workspace's first start loads JupyterLab and its tools: more than JupyterHub's 30 s on a
# busy server.
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120

# Deployments run where workspaces do (MLLab.backend = "docker" gives the docker runtime), on
# the same engine: each container alone on a network of its own, which the hub's container
# joins while it runs (the service finds its own container: c.DockerRuntime.service_container);
# the service reaches them there and copies models in (it runs in a container, not on the host).
c.DockerRuntime.publish_host_port = False
c.DockerRuntime.model_transfer = "copy"
c.DockerRuntime.model_image = os.environ.get("MLLAB_MODEL_SERVER_IMAGE", "mllab/model-server:latest")

# The deployments' endpoints on an origin of their own (docs/deployments.md), when
# MLLAB_ENDPOINT_URL names it: the service also listens on port 8001 of the hub's container,
# which the compose file publishes, and the API gives each deployment's URL below it.  Give it
# a host name of its own (https://endpoints.ml.example.org/): the hub's host at another port
# would still receive the hub's cookies.  Unset: endpoints are served under the hub's address
# only (/services/deployments/endpoints/...), made inert there.
endpoint_url = os.environ.get("MLLAB_ENDPOINT_URL", "")
if endpoint_url:
    c.DeploymentsApp.endpoint_port = 8001
    c.DeploymentsApp.endpoint_ip = "0.0.0.0"
    c.DeploymentsApp.endpoint_url = endpoint_url

# Keep this last: derive the JupyterHub settings from the options above.
from mllab.hub import configure  # noqa: E402

configure(c)
