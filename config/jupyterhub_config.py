# ML Lab Hub configuration: the file an admin edits.
#
# `mllab up --config config/jupyterhub_config.py` loads it over the embedded defaults, and
# plain `jupyterhub -f config/jupyterhub_config.py` runs the same platform.  Set the
# platform's options on `c.MLLab` (every option: `python -m mllab.hub.options`); anything
# set directly on JupyterHub's own classes (c.JupyterHub, c.Spawner, ...) wins over what
# ML Lab derives from them.

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

# Where the platform keeps its state (hub database, secrets, artifacts, local homes).
c.MLLab.data_dir = ".mllab"

# Where workspaces run: "local" (processes on this machine), "docker" or "kubernetes".
# Deployments and jobs run there too (c.DeploymentsApp.runtime follows it).
c.MLLab.backend = "local"

# The hub database: SQLite in the data dir by default; PostgreSQL in production.
# c.MLLab.db_url = "postgresql+psycopg://mllab:secret@127.0.0.1:5432/mllab"

# How people log in: "native" (sign-up + admin approval), "oidc", "github" or "gitlab".
c.MLLab.auth = "native"
# c.MLLab.oidc_issuer = "https://keycloak.example.org/realms/ml"
# c.MLLab.oauth_client_id = "mllab"   # the secret comes from $MLLAB_OAUTH_CLIENT_SECRET
# Single sign-on is closed until you say who may log in (docs/auth.md); without it the hub does not start.
# c.MLLabOIDCAuthenticator.allowed_groups = {"ml-users"}

# Artifact storage: a local folder by default, or any S3 API.
# c.MLLab.storage = "s3"
# c.MLLab.s3_endpoint_url = "http://minio:9000"
# c.MLLab.s3_bucket = "mllab"

# A service's own options are set on its classes (python -m mllab.hub.options lists them).
# c.RegistryApp.upload_expiry = 6 * 3600

# Where the hub listens.
c.JupyterHub.bind_url = "http://127.0.0.1:8000"

# Keep this last: derive the JupyterHub settings from the options above.
from mllab.hub import configure  # noqa: E402

configure(c)
