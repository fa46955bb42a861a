"""``LocalRuntime``: workloads as local process groups, found again after a restart of the service.

Real processes: the model server on a saved scikit-learn model, a small HTTP service, jobs.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time

import psutil
import pytest
import requests
from mllab.services.deployments.runtimes.base import Handle, State, Workload, WorkloadError
from mllab.services.deployments.runtimes.local import LocalRuntime

from ..harness import wait_for

#: A service that also leaves a child in its process group (stop must end it too).
SERVICE = ["sh", "-c", 'sleep 300 & exec "$0" -m http.server "$PORT" --bind 127.0.0.1', sys.executable]


@pytest.fixture
def work_dir(tmp_path):
    return str(tmp_path / "deployments")


@pytest.fixture
async def runtime(work_dir):
    runtime = LocalRuntime(work_dir=work_dir, stop_timeout=5)
    yield runtime
    for handle in await LocalRuntime(work_dir=work_dir).list():
        await runtime.stop(handle)


def model(sklearn_model, name="iris", id="mllab-m-users-alice-iris-1") -> Workload:
    return Workload(id=id, kind="model", namespace="users/alice", name=name, model_dir=str(sklearn_model.path))


def service(id="mllab-s-users-alice-web-1") -> Workload:
    return Workload(id=id, kind="service", namespace="users/alice", name="web", command=SERVICE, port=8000)


def job(code: int = 3, id="mllab-j-users-alice-etl-1", script: str | None = None) -> Workload:
    script = script or f"print('hello from the job', flush=True); raise SystemExit({code})"
    return Workload(id=id, kind="job", namespace="users/alice", name="etl", command=[sys.executable, "-c", script])


async def wait_state(runtime: LocalRuntime, handle: Handle, phase: str, timeout: float = 30) -> State:
    deadline = time.monotonic() + timeout
    while (state := await runtime.state(handle)).phase != phase:
        assert time.monotonic() < deadline, f"{handle.workload_id} is still {state}"
        await asyncio.sleep(0.1)
    return state


def group_of(handle: Handle) -> list[psutil.Process]:
    """The live processes of the handle's process group (zombies are dead, awaiting their reaper)."""
    pgid = handle.ref["pid"]
    return [p for p in psutil.process_iter() if _pgid(p) == pgid]


def _pgid(proc: psutil.Process) -> int | None:
    try:
        return os.getpgid(proc.pid) if proc.status() != psutil.STATUS_ZOMBIE else None
    except (ProcessLookupError, PermissionError, psutil.Error):
        return None


async def test_model_service_and_job(runtime, work_dir, sklearn_model, assert_serves):
    """A model answers both protocols on its port, a service on $PORT, a job exits 3 with its log;
    a new runtime on the same folder (the service restarted) finds all three and their states."""
    served = await runtime.start(model(sklearn_model))
    web = await runtime.start(service())
    run = await runtime.start(job(3))
    assert served.url.startswith("http://127.0.0.1:") and web.url.startswith("http://127.0.0.1:")
    assert run.url is None and served.url != web.url

    wait_for(lambda: requests.get(f"{served.url}/v2/health/ready", timeout=1).ok, timeout=60, what="the model")
    assert_serves(served.url, "iris")
    assert listening(served) == {("127.0.0.1", served.ref["port"])}  # loopback only: the proxy's way in
    wait_for(lambda: requests.get(web.url, timeout=1).ok, timeout=30, what="the service")
    assert await wait_state(runtime, run, "exited") == State("exited", 3)
    assert "hello from the job" in await runtime.logs(run)

    restarted = LocalRuntime(work_dir=work_dir)
    found = {h.workload_id: h for h in await restarted.list()}
    assert found == {h.workload_id: h for h in (served, web, run)}
    assert await restarted.state(found[served.workload_id]) == State("running")
    assert await restarted.state(found[web.workload_id]) == State("running")
    assert await restarted.state(found[run.workload_id]) == State("exited", 3)
    assert "hello from the job" in await restarted.logs(found[run.workload_id])
    assert requests.get(f"{found[served.workload_id].url}/ping", timeout=5).ok


def listening(handle: Handle) -> set[tuple[str, int]]:
    """The addresses the handle's processes listen on (TCP)."""
    return {(c.laddr.ip, c.laddr.port) for p in group_of(handle) for c in p.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN}


async def test_services_are_told_to_listen_on_loopback(runtime):
    """Services get ``$HOST`` (127.0.0.1) with ``$PORT``; the documented command binds it, so only this
    machine (the platform's proxy, which checks tokens) reaches them; jobs listen nowhere and get neither."""
    documented = ["sh", "-c", 'exec "$0" -m http.server --bind "$HOST" "$PORT"', sys.executable]
    web = await runtime.start(Workload(id="mllab-s-users-alice-web-9", kind="service", namespace="users/alice",
                                       name="web", command=documented, port=8000))
    wait_for(lambda: requests.get(web.url, timeout=1).ok, timeout=30, what="the service")
    environ = psutil.Process(web.ref["pid"]).environ()
    assert (environ["HOST"], environ["PORT"]) == ("127.0.0.1", str(web.ref["port"]))
    assert listening(web) == {("127.0.0.1", web.ref["port"])}
    run = await runtime.start(job(0, script="import os; print(os.environ.get('HOST'), os.environ.get('PORT'))"))
    await wait_state(runtime, run, "exited")
    assert await runtime.logs(run) == "None None\n"


async def test_found_without_handle_file(runtime, work_dir, sklearn_model):
    """A process whose handle was never written (the service died right after starting it) is found
    by its marker in the environment."""
    web = await runtime.start(service())
    os.unlink(os.path.join(work_dir, "handles", f"{web.workload_id}.json"))
    found = await LocalRuntime(work_dir=work_dir).list()
    assert [(h.workload_id, h.ref["pid"], h.url) for h in found] == [(web.workload_id, web.ref["pid"], web.url)]
    await LocalRuntime(work_dir=work_dir).stop(found[0])
    assert await runtime.list() == []


async def test_stop_ends_the_whole_group(runtime, work_dir):
    web = await runtime.start(service())
    wait_for(lambda: requests.get(web.url, timeout=1).ok, timeout=30, what="the service")
    members = group_of(web)
    assert {p.name() for p in members} >= {"sh", "sleep"} and len(members) >= 3
    # The service restarted meanwhile: a new runtime stops what the old one started.
    await LocalRuntime(work_dir=work_dir, stop_timeout=5).stop(web)
    assert not group_of(web)
    assert await runtime.state(web) == State("gone")
    assert await runtime.list() == []
    assert await runtime.logs(web) == ""
    assert sorted(os.listdir(work_dir)) == ["exit", "handles", "logs", "run"]
    assert all(os.listdir(os.path.join(work_dir, folder)) == [] for folder in os.listdir(work_dir))
    await runtime.stop(web)  # idempotent


async def test_stop_kills_what_ignores_sigterm(work_dir):
    runtime = LocalRuntime(work_dir=work_dir, stop_timeout=1)
    stubborn = job(id="mllab-j-users-alice-stubborn-1",
                   script="import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                          "print('ready', flush=True); time.sleep(300)")
    handle = await runtime.start(stubborn)
    wait_for(lambda: "ready" in runtime.log_path(handle.workload_id).read_text(), timeout=30, what="the job")
    started = time.monotonic()
    await runtime.stop(handle)
    assert time.monotonic() - started < 10
    assert not group_of(handle)


async def test_killed_model_is_exited(runtime, sklearn_model):
    """Killing the server (not the group) leaves an exit status: 128 + the signal."""
    served = await runtime.start(model(sklearn_model))
    server = wait_for(lambda: psutil.Process(served.ref["pid"]).children(), timeout=30, what="the model server")[0]
    assert "mllab.services.deployments.modelserver" in server.cmdline()
    server.send_signal(signal.SIGKILL)
    state = await wait_state(runtime, served, "exited")
    assert state == State("exited", 137, "killed by signal 9")


async def test_start_replaces_the_same_id(runtime):
    first = await runtime.start(service())
    second = await runtime.start(service())
    assert first.ref["pid"] != second.ref["pid"]
    assert await runtime.state(first) == State("gone")  # the first process is not the handle's any more
    assert await runtime.state(second) == State("running")
    assert [h.workload_id for h in await runtime.list()] == [second.workload_id]


async def test_recycled_pid_is_not_adopted(runtime):
    """A handle whose pid now belongs to another process (other start time, no marker) is gone."""
    me = psutil.Process()
    assert await runtime.state(Handle("mllab-j-x-1", {"pid": me.pid, "create_time": me.create_time() - 5})) == \
        State("gone")
    assert await runtime.state(Handle("mllab-j-x-1", {"pid": me.pid, "create_time": me.create_time()})) == \
        State("gone")
    await runtime.stop(Handle("mllab-j-x-1", {"pid": me.pid, "create_time": me.create_time()}))
    assert me.is_running()


async def test_logs_tail_and_follow(runtime):
    script = "import time\nfor i in range(5):\n    print(f'line {i}', flush=True)\n    time.sleep(0.2)\n"
    handle = await runtime.start(job(id="mllab-j-users-alice-lines-1", script=script))
    text = "".join([chunk async for chunk in runtime.follow(handle)])
    assert text.splitlines() == [f"line {i}" for i in range(5)]
    assert await runtime.logs(handle, tail=2) == "line 3\nline 4\n"
    assert await runtime.logs(handle, tail=0) == ""
    assert await runtime.state(handle) == State("exited", 0)


async def test_workloads_do_not_get_the_services_secrets(runtime, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "the-services-token")
    monkeypatch.setenv("PGPASSWORD", "the-database-password")
    script = "import os, json; print(json.dumps(sorted(os.environ)))"
    workload = job(id="mllab-j-users-alice-env-1", script=script)
    workload.env = {"MY_SETTING": "1"}
    handle = await runtime.start(workload)
    await wait_state(runtime, handle, "exited")
    names = set(json.loads(await runtime.logs(handle)))
    assert {"MY_SETTING", "MLLAB_WORKLOAD_ID", "PATH"} <= names
    assert not {"JUPYTERHUB_API_TOKEN", "PGPASSWORD"} & names


async def test_work_dirs_are_apart(runtime, tmp_path):
    await runtime.start(service())
    assert await LocalRuntime(work_dir=str(tmp_path / "other")).list() == []


@pytest.mark.parametrize(
    ("workload", "error"),
    [
        (Workload(id="mllab-s-a-1", kind="service", namespace="users/a", name="a", image="nginx", port=80),
         "runs commands, not images"),
        (Workload(id="mllab-s-a-1", kind="service", namespace="users/a", name="a", port=80), "needs a command"),
        (Workload(id="mllab-m-a-1", kind="model", namespace="users/a", name="a"), "has no model_dir"),
    ],
    ids=["image", "no-command", "no-model-dir"],
)
async def test_refused(runtime, workload, error):
    with pytest.raises(WorkloadError, match=error):
        await runtime.start(workload)
    assert await runtime.list() == []


def test_default_work_dir_is_under_the_services_data_dir(tmp_path):
    from traitlets.config import Configurable

    class Parent(Configurable):
        data_dir = str(tmp_path)

    assert LocalRuntime(parent=Parent()).work_dir == str(tmp_path / "deployments")
