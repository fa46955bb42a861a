"""A real container engine for the Docker backend's tests: podman's Docker-compatible API.

Nothing can be pulled on the test machines, so images are made here: a Debian root file
system from ``debootstrap`` imported as a local base, and the project's own Dockerfiles
(``images/workspace``, ``images/model-server``) built on it with ``--build-arg BASE=<local
base>``.  Each is built once per machine and found again by a tag that is a hash of its recipe.

The podman settings (runc, rlimits) are the harness's (``containers.conf`` next to this
file, passed with ``$CONTAINERS_CONF``), not the product's: users run Docker or podman as
they like.  Everything here needs root, as CI runs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from .. import run
from ..harness import REPO, wait_for

log = logging.getLogger(__name__)

CONTAINERS_CONF = Path(__file__).with_name("containers.conf")
WORKSPACE_RECIPE = REPO / "images" / "workspace"
MODEL_SERVER_RECIPE = REPO / "images" / "model-server"
HUB_RECIPE = REPO / "images" / "hub"
#: Stand-ins for the images config/compose.yaml pulls (PostgreSQL, MinIO), for tests/compose.
STANDIN_RECIPES = REPO / "tests" / "compose"
BASE_REPO = "localhost/mllab-test-base"
WORKSPACE_REPO = "localhost/mllab-test-workspace"
MODEL_SERVER_REPO = "localhost/mllab-test-model-server"
HUB_REPO = "localhost/mllab-test-hub"
DEBIAN_SUITE = "bookworm"
#: Label of the images this checkout builds: only these are removed when a recipe changes, as
#: another checkout on the machine may be using its own.
CHECKOUT_LABEL = f"org.mllab.test.checkout={hashlib.sha256(str(REPO).encode()).hexdigest()[:12]}"


def recipe_files(recipe: Path) -> list[Path]:
    return sorted(p for p in recipe.rglob("*") if p.is_file() and p.suffix not in {".whl", ".crt"})


#: Files whose content goes into the workspace image; a change to any of them rebuilds it.
WORKSPACE_INPUTS = [
    *recipe_files(WORKSPACE_RECIPE),
    REPO / "pyproject.toml",
    *sorted((REPO / "client").rglob("*.py")),
    *sorted(p for p in (REPO / "extensions").rglob("*")
            if p.is_file() and p.suffix in {".py", ".json", ".html", ".js", ".css", ".svg"}
            and "novnc" not in p.relative_to(REPO / "extensions").parts),
    # static/novnc in extensions/desktop: noVNC from npm, at the version the lock names.
    REPO / "package-lock.json",
]
#: Files whose content goes into the model server image (the server, and the client for `mllab models pull`).
MODEL_SERVER_INPUTS = [
    *recipe_files(MODEL_SERVER_RECIPE),
    REPO / "pyproject.toml",
    REPO / "services" / "deployments" / "modelserver.py",
    *sorted((REPO / "client").rglob("*.py")),
]

#: Files whose content goes into the hub image (the hub, its services and the client they share).
HUB_INPUTS = [
    *recipe_files(HUB_RECIPE),
    REPO / "pyproject.toml",
    *sorted(p for folder in ("hub", "services", "client") for p in (REPO / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts),
]


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], env=podman_env(), check=True, **kwargs)


def recipe_hash(paths: list[Path], *extra: str) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    for item in extra:
        digest.update(item.encode() + b"\0")
    return digest.hexdigest()[:16]


def image_exists(ref: str) -> bool:
    return subprocess.run(["podman", "image", "exists", ref], env=podman_env()).returncode == 0


def apt_mirror() -> str:
    """The Debian mirror the machine's own apt sources name (debootstrap needs one)."""
    for source in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if not source.is_file() or not source.name.endswith((".list", ".sources")):
            continue
        for line in source.read_text().splitlines():
            words = line.split()
            if words[:1] == ["URIs:"] or words[:1] == ["deb"]:
                url = words[1] if words[0] == "URIs:" else words[-3]
                if url.rstrip("/").endswith("/debian"):
                    return url
    return "http://deb.debian.org/debian"


def ensure_base_image() -> str:
    """A minimal Debian image made from the distribution's packages with debootstrap."""
    mirror = apt_mirror()
    ref = f"{BASE_REPO}:{DEBIAN_SUITE}-{recipe_hash([], DEBIAN_SUITE, 'minbase', mirror)}"
    with building(ref):
        if not image_exists(ref):
            _debootstrap(ref, mirror)
    return ref


@contextmanager
def building(ref: str) -> Iterator[None]:
    """Held while ``ref`` is looked for and built: the workers of a run, and other runs on the
    machine, build an image once and then find it."""
    name = hashlib.sha256(ref.encode()).hexdigest()[:16]
    with FileLock(Path(tempfile.gettempdir()) / f"mllab-test-image-{name}.lock"):
        yield


def _debootstrap(ref: str, mirror: str) -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mllab-rootfs-") as rootfs:
        subprocess.run(["debootstrap", "--variant=minbase", DEBIAN_SUITE, rootfs, mirror], check=True,
                       stdout=subprocess.DEVNULL)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        podman("import", "-", ref, stdin=tar.stdout, stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            raise RuntimeError(f"tar of {rootfs} failed")
    log.warning("built %s in %.0fs", ref, time.monotonic() - started)


def ensure_workspace_image() -> str:
    """``images/workspace/Dockerfile`` built on the local base, with this checkout's wheel."""
    return ensure_project_image(WORKSPACE_RECIPE, WORKSPACE_REPO, WORKSPACE_INPUTS)


def ensure_model_server_image() -> str:
    """``images/model-server/Dockerfile`` built on the local base, with this checkout's wheel."""
    return ensure_project_image(MODEL_SERVER_RECIPE, MODEL_SERVER_REPO, MODEL_SERVER_INPUTS)


def ensure_hub_image() -> str:
    """``images/hub/Dockerfile`` built on the local base, with this checkout's wheel."""
    return ensure_project_image(HUB_RECIPE, HUB_REPO, HUB_INPUTS)


def ensure_standin_image(name: str) -> str:
    """``tests/compose/<name>/Dockerfile`` (a stand-in for an image users pull) built on the local base."""
    recipe = STANDIN_RECIPES / name
    return ensure_project_image(recipe, f"localhost/mllab-test-standin-{name}", recipe_files(recipe), wheel=False)


def ensure_all_images() -> None:
    """Every image the suite uses, the most used first."""
    ensure_workspace_image()
    ensure_model_server_image()
    ensure_hub_image()
    for name in ("postgres", "s3"):
        ensure_standin_image(name)


def build_in_background() -> None:
    """Start the run's podman service, and building every image in a process of the run's own,
    once per run, so that the tests before the container tests run meanwhile; a test wanting an image still being built
    waits for it (`building`). The run's controller stops the process if it outlives the run."""
    # The engine's service starts first: once an image build commits its layers (gigabytes, held
    # under the storage lock), a service starting meanwhile waits for it.
    podman_socket()
    with run.lock("images"):
        if run.has_daemon("images"):
            return
        with open(run.folder() / "images.log", "ab") as log_file:
            proc = subprocess.Popen([sys.executable, "-m", "tests.workspaces.engine"], cwd=REPO,
                                    stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        run.add_daemon("images", proc.pid)


def ensure_project_image(recipe: Path, repository: str, inputs: list[Path], wheel: bool = True) -> str:
    """The Dockerfile in ``recipe`` built on the local base with this checkout's wheel in
    ``wheels/`` (unless ``wheel`` is false), tagged ``repository:<hash of inputs and base>``;
    built only when that tag is missing."""
    base = ensure_base_image()
    ref = f"{repository}:{recipe_hash(inputs, base)}"
    with building(ref):
        if not image_exists(ref):
            _build(recipe, repository, ref, base, wheel)
    return ref


def _build(recipe: Path, repository: str, ref: str, base: str, wheel: bool) -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mllab-{recipe.name}-context-") as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(recipe, context, ignore=shutil.ignore_patterns("*.whl", "*.crt"))
        if wheel:
            subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(context / "wheels"),
                            str(REPO)], check=True)
        # pip inside the build trusts what pip here trusts (a TLS-intercepting proxy's CA).
        host_ca = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"
        if Path(host_ca).is_file() and (context / "extra-ca").is_dir():
            shutil.copy(host_ca, context / "extra-ca" / "ca.crt")
        podman("build", "--network", "host", "--build-arg", f"BASE={base}", "--label", CHECKOUT_LABEL, "-t", ref,
               str(context), stdout=subprocess.DEVNULL)
    log.warning("built %s in %.0fs", ref, time.monotonic() - started)
    remove_other_tags(repository, keep=ref)


def remove_other_tags(repository: str, keep: str) -> None:
    """Drop this checkout's images of earlier recipes; one still used by a container stays."""
    listed = podman("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", f"label={CHECKOUT_LABEL}",
                    "--filter", f"reference={repository}", capture_output=True, text=True)
    for ref in set(listed.stdout.split()) - {keep}:
        subprocess.run(["podman", "rmi", ref], env=podman_env(), capture_output=True)


def _answers(url: str) -> bool:
    import docker

    try:
        return docker.DockerClient(base_url=url, timeout=5).ping()
    except Exception:
        return False


def podman_socket() -> str:
    """The Docker API socket URL of the run's podman service, started by the first caller.

    One service per test run, with its socket in the run's folder: another run on the machine
    (another checkout, or a user's own podman) is neither reused nor stopped. The run's
    controller stops it at the end (``tests/run.py``).
    """
    if shutil.which("podman") is None:
        raise RuntimeError("podman is not installed: `make system-packages` (apt-get install podman runc debootstrap)")
    socket = run.folder() / "podman.sock"
    url = f"unix://{socket}"
    with run.lock("podman"):
        if not _answers(url):
            # Its log stays in the run's folder: a service that ended early says why there.
            with open(run.folder() / "podman.log", "ab") as log_file:
                proc = subprocess.Popen(
                    ["podman", "system", "service", "--time=0", url],
                    env=podman_env(), stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
                )
            run.add_daemon("podman", proc.pid)
            wait_for(lambda: _answers(url), timeout=180, interval=0.5, what="podman's Docker API")
    return url


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    ensure_all_images()
