"""What ``mllab up`` leaves running once it has stopped: nothing.

Stopped for good (Ctrl-C, SIGTERM), the hub stops its services, its proxy and its workspaces,
and the deployments service stops the local runtime's workloads: the model servers, services
and job runs it started in sessions of their own.  The deployments keep their desired state,
and the next start runs them again.  A hub told to leave its servers running
(``JupyterHub.cleanup_servers = False``) leaves the workloads too, and the next start adopts
them.  A start that fails or is interrupted stops what it had started.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from mllab.client import Client
from mllab.services.deployments.controller import Controller
from mllab.services.deployments.proxy import Endpoints
from mllab.services.deployments.runtimes.base import Workload, WorkloadError
from mllab.services.deployments.store import create_deployment, create_job, deployment_by_id, get_run
from mllab.services.deployments.validation import Settings, job_spec, service_spec
from traitlets.config import Config

from ..harness import Hub, env_with_node, wait_for
from .conftest import HTTP_SERVICE, Lab, mlflow_request

SLEEP = [sys.executable, "-c", "import time; print('working', flush=True); time.sleep(600)"]
#: A job run's message when the service stopped under it.
CUT_SHORT = "the deployments service stopped, and its local workloads with it"


def workload_processes(work_dir: str) -> dict[str, list[psutil.Process]]:
    """Live processes of the local runtime working for ``work_dir``, by workload id (seen with
    psutil, not through the service)."""
    found: dict[str, list[psutil.Process]] = {}
    for process in psutil.process_iter():
        try:
            env = process.environ()
            if env.get("MLLAB_WORK_DIR") == work_dir and process.status() != psutil.STATUS_ZOMBIE:
                found.setdefault(env["MLLAB_WORKLOAD_ID"], []).append(process)
        except (psutil.Error, KeyError):
            continue
    return found


def processes_of_hub(hub: Hub, *markers: str) -> list[str]:
    """Live processes of ``hub`` (its proxy on its port, whatever names or works in its data dir,
    whatever has one of ``markers`` on its command line), described."""
    data_dir = str(hub.data_dir.resolve())
    found = []
    for process in psutil.process_iter():
        try:
            command = process.cmdline()
            line = " ".join(command)
            proxy = "configurable-http-proxy" in line and str(hub.port) in command
            if process.status() != psutil.STATUS_ZOMBIE and (
                    proxy or data_dir in line or process.cwd().startswith(data_dir)
                    or any(marker in line for marker in markers)):
                found.append(f"{process.pid}: {line[:200]}")
        except psutil.Error:
            continue
    return found


# --- the service, without a hub -----------------------------------------------------------------


async def until(predicate, what: str, timeout: float = 30) -> None:
    """`wait_for` for async tests: the event loop goes on meanwhile."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_stopping_the_service_stops_its_workloads_and_the_next_start_runs_them(controller):
    settings = Settings(workspace_backend="local")
    fields = service_spec({"namespace": "users/alice", "name": "web", "port": 8000, "command": HTTP_SERVICE},
                          settings)
    deployment = await controller.db.run(create_deployment, fields, "alice")
    await controller.bring_up(deployment.id)
    before = (await controller.db.run(deployment_by_id, deployment.id)).handle["workload_id"]
    fields = job_spec({"namespace": "users/alice", "name": "long", "command": SLEEP}, settings)
    job = await controller.db.run(create_job, fields, "alice", None)
    _, run = await controller.jobs.run(job.id)
    work_dir = controller.runtime.work_dir

    def run_working() -> bool:
        runs = workload_processes(work_dir).keys() - {before}
        return bool(runs) and "working" in controller.runtime.log_path(runs.pop()).read_text()

    await until(run_working, "the job run's output")

    await controller.close()
    await controller.stop_workloads(CUT_SHORT)

    assert workload_processes(work_dir) == {}
    assert await controller.runtime.list() == []
    ended = await controller.db.run(get_run, job.id, run.number)
    assert (ended.status, ended.message, ended.log) == ("failed", CUT_SHORT, "working\n")
    with pytest.raises(WorkloadError, match="the service is stopping"):
        await controller.runtime.start(Workload(id="mllab-s-users-alice-late-1", kind="service",
                                                namespace="users/alice", name="late", command=HTTP_SERVICE))

    # The next start (a new service: a new runtime on the same folder) starts the deployment again.
    runtime = type(controller.runtime)(work_dir=work_dir, stop_timeout=5)
    after = Controller(controller.db, runtime, Endpoints(), None, ready_timeout=30)
    await after.reconcile()
    await after.idle()
    deployment = await after.db.run(deployment_by_id, deployment.id)
    assert (deployment.status, deployment.desired) == ("ready", "running")
    assert list(workload_processes(work_dir)) == [deployment.handle["workload_id"]] != [before]
    await after.close()
    await runtime.stop_all()


def test_the_hub_leaves_local_workloads_running_when_it_leaves_its_servers_running() -> None:
    from mllab.hub.platform import MLLab
    from mllab.hub.services import builtin_services

    def local_runtime_args(**jupyterhub) -> list[str]:
        c = Config()
        c.JupyterHub.update(jupyterhub)
        command = builtin_services(MLLab(config=c), c)["deployments"]["command"]
        return [arg for arg in command if arg.startswith("--LocalRuntime.")]

    assert local_runtime_args() == []  # the service's default: stopped with it
    assert local_runtime_args(cleanup_servers=True) == ["--LocalRuntime.stop_with_service=true"]
    assert local_runtime_args(cleanup_servers=False) == ["--LocalRuntime.stop_with_service=false"]


# --- mllab up ---------------------------------------------------------------------------------


def register(lab: Lab, model_path: Path, name: str) -> str:
    token = lab.users["alice"][0].new_token()
    client = Client(lab.hub.url, token, env={"MLLAB_CACHE_DIR": str(lab.hub.data_dir.parent / "cache")})
    pushed = client.models.register(model_path, name, progress=False)
    client.models.alias(str(pushed.ref), "production")
    return f"users/alice/{name}@production"


def test_ctrl_c_stops_the_model_servers_and_the_next_start_serves_again(make_lab, sklearn_model):
    lab = make_lab()
    alice = lab.api("alice")
    alice.create(model=register(lab, sklearn_model.path, "iris"), name="iris")
    served = alice.wait("users/alice/iris", "ready", timeout=180)
    assert alice.post("jobs", json={"namespace": "users/alice", "name": "long", "command": SLEEP}).status_code == 201
    wait_for(lambda: "working" in alice.get("jobs/users/alice/long/runs/1/logs").text, what="the run's output")
    before = workload_processes(lab.work_dir)
    [model_server] = [w for w in before if w.startswith("mllab-m-users-alice-iris-")]
    assert len(before) == 2, before

    lab.hub.proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert lab.hub.proc.wait(120) == 0
    lab.hub.proc = None
    # The hub waited for its services, which waited for their workloads; its proxy, told to
    # stop, may take a moment.
    assert workload_processes(lab.work_dir) == {}
    wait_for(lambda: not processes_of_hub(lab.hub), timeout=10, what=f"the hub's processes to end: "
             f"{processes_of_hub(lab.hub)}")

    lab.hub.start()
    again = alice.wait("users/alice/iris", "ready", timeout=180)
    assert (again["desired"], again["model_version"]) == ("running", served["model_version"])
    answer = alice.endpoint("users/alice/iris", "invocations", method="POST", json=mlflow_request(sklearn_model))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": sklearn_model.expected}
    [started] = workload_processes(lab.work_dir)
    assert started.startswith("mllab-m-users-alice-iris-") and started != model_server
    run = alice.get("jobs/users/alice/long/runs/1").json()
    assert (run["status"], run["message"]) == ("failed", CUT_SHORT)
    assert alice.get("jobs/users/alice/long/runs/1/logs").text == "working\n"


def test_a_hub_leaving_its_servers_running_leaves_the_workloads_for_the_next_start(make_lab, unique):
    lab = make_lab(lines=("c.JupyterHub.cleanup_servers = False",))
    alice = lab.api("alice")
    name = unique("web")
    alice.create(namespace="users/alice", name=name, command=HTTP_SERVICE, port=8000)
    alice.wait(f"users/alice/{name}", "ready")
    before = workload_processes(lab.work_dir)
    assert len(before) == 1

    lab.hub.proc.send_signal(signal.SIGTERM)
    assert lab.hub.proc.wait(120) == 0
    lab.hub.proc = None
    assert workload_processes(lab.work_dir).keys() == before.keys()
    lab.hub.start()

    assert alice.wait(f"users/alice/{name}", "ready")["message"] is None
    assert alice.endpoint(f"users/alice/{name}").status_code == 200
    assert workload_processes(lab.work_dir) == before, "adopted, not started again"


#: A managed service that exits at once, or one that never answers (``{marker}`` tells it apart).
FAILING_SERVICE = "# {marker}\nraise SystemExit(3)"
SILENT_SERVICE = "# {marker}\nimport time; time.sleep(3600)"


@pytest.mark.parametrize("how", ["failed", "interrupted"])
def test_a_start_that_fails_or_is_interrupted_stops_what_it_started(make_hub, tmp_path, how):
    marker = f"mllab-test-service-{secrets.token_hex(4)}"
    code = (FAILING_SERVICE if how == "failed" else SILENT_SERVICE).format(marker=marker)
    config = tmp_path / "config.py"
    config.write_text(f"import sys\nc.MLLab.services = {{'extra': {{'command': [sys.executable, '-c', {code!r}], "
                      f"'url': 'http://127.0.0.1:1'}}}}\nc.MLLabHub.service_start_timeout = 600\n")
    hub = make_hub(args=["--config", str(config)], start=False)
    # Started here, not with `Hub.start`: the harness ends what a hub that exited by itself left.
    with open(tmp_path / "hub.log", "ab") as log:
        hub.proc = subprocess.Popen(hub.command(), env=env_with_node(MLLAB_ADMIN_PASSWORD=hub.admin_password),
                                    cwd=hub.data_dir.parent, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
    if how == "interrupted":
        # Its proxy and the platform's services run, the hub waits for the last service.
        wait_for(lambda: any(marker in " ".join(p.cmdline()) for p in psutil.Process(hub.proc.pid).children()),
                 timeout=180, interval=0.5, what="the hub to start its last service")
        hub.proc.send_signal(signal.SIGTERM)
    assert hub.proc.wait(120) == (1 if how == "failed" else 128 + signal.SIGTERM)
    wait_for(lambda: not processes_of_hub(hub, marker), timeout=10,
             what=f"what the hub started to end: {processes_of_hub(hub, marker)}")
