"""The Dockerfiles in ``images/``: linted, and the workspace image runs as the backends expect."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ..harness import REPO, require

DOCKERFILES = sorted((REPO / "images").glob("*/Dockerfile"))
HADOLINT = shutil.which("hadolint") or str(Path(__file__).parents[2] / ".venv" / "bin" / "hadolint")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def test_there_are_dockerfiles():
    assert {p.parent.name for p in DOCKERFILES} >= {"hub", "workspace"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_clean(dockerfile):
    require(Path(HADOLINT).exists(), "hadolint", "make setup")
    result = subprocess.run([HADOLINT, "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_base_is_an_argument_and_user_is_not_root(dockerfile):
    """``ARG BASE`` / ``FROM ${BASE}``: the same recipe builds from a public or a local base."""
    steps = instructions(dockerfile)
    assert steps[0][0] == "ARG" and steps[0][1].startswith("BASE=")
    assert steps[1] == ("FROM", "${BASE}")
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the image must not run as root"


@pytest.mark.slow
def test_workspace_image(workspace_image, docker_client):
    """The image the tests run is ``images/workspace/Dockerfile`` itself, built on a local base."""
    image = docker_client.images.get(workspace_image)
    assert image.attrs["Config"]["User"] == "1000:1000"
    assert image.attrs["Config"]["Cmd"] == ["jupyterhub-singleuser"]
    out = docker_client.containers.run(
        workspace_image,
        ["python3", "-c", "import os, jupyterhub, jupyterlab, mllab.client; print(os.getuid(), os.environ['HOME'])"],
        remove=True,
    )
    assert out.decode().split() == ["1000", "/home/jovyan"]
