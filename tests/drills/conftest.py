"""Fixtures of the reliability drills: an S3 endpoint and a PostgreSQL server that can be stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .outages import Gate, Postgres


@pytest.fixture
def s3_gate(s3_endpoint) -> Iterator[Gate]:
    """The session's moto endpoint behind a relay the test closes and opens (``gate.url``)."""
    gate = Gate(s3_endpoint)
    gate.open()
    yield gate
    gate.shut_down()


@pytest.fixture
def drill_postgres() -> Iterator[Postgres]:
    """A running PostgreSQL of the test's own (``.url``, ``.stop()``, ``.start()``)."""
    server = Postgres()
    server.start()
    yield server
    server.remove()


# --- the deployments service: a hub serving a registered model with the local runtime ------------

import secrets  # noqa: E402
import shutil  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import psutil  # noqa: E402
from mllab.client import Client  # noqa: E402

from ..deployments.conftest import Lab, SavedModel, mlflow_request, sklearn_model, start_lab  # noqa: E402,F401
from ..harness import wait_for  # noqa: E402


@dataclass
class ModelLab:
    """A hub whose registry holds the iris model of `sklearn_model`, deployed by alice."""

    lab: Lab
    model: SavedModel
    token: str

    @property
    def hub(self):
        return self.lab.hub

    def register(self, name: str, alias: str = "production", note: str = "", folder: Path | None = None) -> str:
        """Push the model (or the one in ``folder``) as a version of ``users/alice/<name>`` (a new
        one for each ``note``, a file added beside the model) and point ``alias`` at it."""
        source = folder or self.model.path
        folder = source
        if note:
            folder = self.hub.data_dir.parent / f"model-{secrets.token_hex(3)}"
            shutil.copytree(source, folder)
            (folder / "NOTE.txt").write_text(note)
        client = Client(self.hub.url, self.token, env={"MLLAB_CACHE_DIR": str(self.hub.data_dir.parent / "cache")})
        pushed = client.models.register(folder, name, progress=False)
        client.models.alias(str(pushed.ref), alias)
        return f"users/alice/{name}@{alias}"

    def predict(self, full_name: str) -> list[int]:
        """The classes the deployment's platform URL answers for the model's rows."""
        answer = self.lab.api("alice").endpoint(full_name, "invocations", method="POST",
                                                json=mlflow_request(self.model))
        assert answer.status_code == 200, answer.text
        return answer.json()["predictions"]

    def processes(self) -> dict[str, set[int]]:
        """Live processes of this hub's workloads (seen with psutil, not through the service),
        by workload id: ``mllab-m-users-alice-<name>-<token>``."""
        found: dict[str, set[int]] = {}
        for process in psutil.process_iter():
            try:
                env = process.environ()
                if env.get("MLLAB_WORK_DIR") == self.lab.work_dir and process.status() != psutil.STATUS_ZOMBIE:
                    found.setdefault(env["MLLAB_WORKLOAD_ID"], set()).add(process.pid)
            except (psutil.Error, KeyError):
                continue
        return found

    def workloads_of(self, name: str) -> set[str]:
        """Workload ids with live processes for alice's deployment ``name``."""
        prefix = f"mllab-m-users-alice-{name}-"
        return {w for w in self.processes() if w.startswith(prefix) and w[len(prefix):].isalnum()}

    def wait_settled(self, full_name: str, timeout: float = 180) -> dict:
        """The deployment once it is ``ready``, ``failed`` or ``stopped`` (a final status)."""
        alice = self.lab.api("alice")
        found: dict = {}

        def settled() -> bool:
            found.update(alice.get(f"deployments/{full_name}").json())
            return found["status"] in ("ready", "failed", "stopped") and not (
                found["status"] == "ready" and (found["message"] or "").startswith("Rolling out"))

        wait_for(settled, timeout=timeout, interval=0.5, what=f"{full_name} to settle")
        return found


@pytest.fixture
def make_model_lab(request, tmp_path, postgres_url) -> Iterator:
    """``make_model_lab(*config_lines)``: a hub (the deployments service on PostgreSQL, the local
    runtime, the registry as ``config_lines`` set it) with alice's token; stopped with its workloads."""
    model = request.getfixturevalue("sklearn_model")
    labs: list[Lab] = []

    def make(*lines: str) -> ModelLab:
        lab = start_lab(tmp_path / f"lab-{len(labs)}", postgres_url, lines)
        labs.append(lab)
        return ModelLab(lab, model, lab.users["alice"][0].new_token())

    yield make
    for lab in labs:
        lab.stop()
