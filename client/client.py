"""``Client``: the entry point of the Python API."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

from .artifacts import Datasets, Models
from .config import Settings, settings_from_env
from .deployments import Deployments
from .http import HubSession
from .jobs import Jobs
from .resume import ResumeStore, cache_dir


class Client:
    """Talks to one ML Lab Hub as one user.

    With no arguments it configures itself from the environment: ``MLLAB_URL`` and
    ``MLLAB_TOKEN``, else (inside a workspace) ``JUPYTERHUB_API_URL`` and ``JUPYTERHUB_API_TOKEN``;
    ``MLLAB_REGISTRY_URL`` overrides the registry's address.

    >>> client = Client()
    >>> client.datasets.push("./data", "iris")
    >>> client.datasets.pull("users/alice/iris@latest", "./iris")
    >>> client.deployments.create(model="users/alice/churn@production", wait=True)
    >>> client.deployments.predict("churn", {"dataframe_records": [{"age": 42}]})

    ``workers`` is the number of parallel transfers (and hashing threads).
    """

    def __init__(self, url: str | None = None, token: str | None = None, registry_url: str | None = None, *,
                 workers: int = 4, env: Mapping[str, str] | None = None) -> None:
        self.settings: Settings = settings_from_env(env, url=url, token=token, registry_url=registry_url)
        self.workers = max(1, workers)
        self.http = HubSession(self.settings, pool_size=self.workers * 2)
        self.resume_store = ResumeStore(cache_dir(env))
        self.datasets = Datasets(self)
        self.models = Models(self)
        self.deployments = Deployments(self)
        self.jobs = Jobs(self)

    @cached_property
    def user(self) -> dict:
        """The hub's model of the token's owner (``GET /hub/api/user``): name, groups, scopes."""
        return self.http.json("GET", self.http.hub_api_url("user"))

    @property
    def username(self) -> str:
        return self.user["name"]

    @property
    def namespace(self) -> str:
        """The caller's own namespace, ``users/<name>``: where plain names live."""
        return f"users/{self.username}"

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.settings.hub_url!r})"
