"""Hardware monitoring of a workspace (``mllab.extensions.monitor``).

The collection functions are tested on their own, the GPU figures' handling with a stand-in NVML
module.  Then the endpoint through the hub's proxy: a local workspace, which shows this machine's
GPUs as NVML (``nvidia-ml-py``, what the monitor itself reads) finds them, or "no GPU" where it
finds none; on a GPU machine also as ``nvidia-smi`` lists them.  And a podman workspace container
whose cgroup limits (the ``small`` profile: 512 MiB, half a core, no GPU) are what it reports.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import psutil
import pynvml
import pytest
import requests
from jupyter_core.paths import jupyter_config_path
from mllab.extensions.monitor import _link_jupyter_server_extension, gpu, launcher
from mllab.extensions.monitor.cgroup import CgroupFigures, cgroup_figures
from mllab.extensions.monitor.metrics import collect, cpu_figures, memory_figures, workspace_processes
from traitlets.config import Config

from ..harness import api, spawn, stop_server
from .tools import assert_sent_to_login

MiB = 2**20


def check_sane(figures: dict) -> None:
    """What every answer of the endpoint holds, wherever the workspace runs."""
    cpu = figures["cpu"]
    assert cpu["count"] >= 1
    assert len(cpu["percent"]) == cpu["count"]
    assert all(0 <= p <= 100 for p in cpu["percent"]), cpu
    assert cpu["workspace_percent"] >= 0
    memory = figures["memory"]
    assert 0 < memory["used"] < memory["total"], memory
    assert 0 < memory["processes"] < memory["machine"]["total"]
    assert 0 < memory["machine"]["used"] < memory["machine"]["total"]
    assert 0 < figures["disk"]["used"] <= figures["disk"]["total"]
    assert figures["network"]["bytes_sent"] >= 0 and figures["network"]["bytes_recv"] >= 0


def machine_gpus() -> list[tuple[str, int]]:
    """NVML's (name, total memory in bytes) of each NVIDIA GPU of this machine, in NVML's order;
    none where there is no NVIDIA driver (NVML's library missing, or the driver not loaded)."""
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as e:
        if e.value in (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, pynvml.NVML_ERROR_DRIVER_NOT_LOADED):
            return []
        raise  # a driver that does not answer: what the monitor should show is unknown
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            gpus.append((name.decode() if isinstance(name, bytes) else name,
                         pynvml.nvmlDeviceGetMemoryInfo(handle).total))
        return gpus
    finally:
        pynvml.nvmlShutdown()


def check_this_machines_gpus(figures: dict) -> None:
    """``figures`` of a workspace on this machine (not in a container) show the GPUs NVML finds:
    an empty list and "no GPU" where it finds none."""
    gpus = machine_gpus()
    assert [(g["name"], g["memory_total"]) for g in figures["gpus"]] == gpus, figures["gpus"]
    assert [g["index"] for g in figures["gpus"]] == list(range(len(gpus)))
    assert figures["gpu"] == (f"{len(gpus)} NVIDIA GPU{'s' if len(gpus) > 1 else ''}" if gpus else "no GPU")


# --- collection, no hub ---------------------------------------------------------------

def test_collect_here_is_sane_and_shows_this_machines_gpus(tmp_path):
    figures = collect(home=tmp_path, nvml=gpu.load_nvml(), interval=0.05)
    check_sane(figures)
    assert figures["disk"]["path"] == str(tmp_path)
    check_this_machines_gpus(figures)
    json.dumps(figures)  # JSON as it is


def test_workspace_cpu_and_memory_count_the_children():
    child = psutil.Popen([sys.executable, "-c", "import time; x = bytearray(64 * 2**20); time.sleep(30)"])
    try:
        # Wait until the child holds its 64 MiB.
        for _ in range(100):
            if child.memory_info().rss > 60 * MiB:
                break
            psutil.cpu_percent(0.05)
        processes = workspace_processes()
        assert child.pid in {p.pid for p in processes}
        memory = memory_figures(processes, CgroupFigures())
        assert memory["processes"] > 60 * MiB
        assert memory["limit_source"] == "machine"
        cpu = cpu_figures(processes, interval=0.05, limit=1.5)
        assert cpu["limit"] == 1.5
    finally:
        child.kill()
        child.wait()


def test_memory_under_a_cgroup_limit_is_the_cgroups():
    processes = workspace_processes()
    memory = memory_figures(processes, CgroupFigures(memory_limit=512 * MiB, memory_used=100 * MiB))
    assert (memory["used"], memory["total"], memory["limit_source"]) == (100 * MiB, 512 * MiB, "cgroup")
    # A "limit" above the machine's memory limits nothing.
    huge = memory_figures(processes, CgroupFigures(memory_limit=2**50, memory_used=100 * MiB))
    assert huge["limit_source"] == "machine"


def write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_in_a_container(tmp_path):
    """A container's namespaced cgroup: ``0::/``, the limits at the mount's top."""
    write(tmp_path / "cgroup.controllers", "cpu memory")
    write(tmp_path / "memory.max", "536870912\n")
    write(tmp_path / "memory.current", "209715200\n")
    write(tmp_path / "memory.stat", "anon 100\nfile 5\ninactive_file 10485760\n")
    write(tmp_path / "cpu.max", "50000 100000\n")
    figures = cgroup_figures(tmp_path, "0::/\n")
    assert figures == CgroupFigures(memory_limit=512 * MiB, memory_used=190 * MiB, cpu_limit=0.5)


def test_cgroup_v2_tightest_limit_of_the_ancestors(tmp_path):
    write(tmp_path / "cgroup.controllers", "cpu memory")
    write(tmp_path / "user.slice" / "memory.max", "1073741824\n")
    write(tmp_path / "user.slice" / "cpu.max", "max 100000\n")
    leaf = tmp_path / "user.slice" / "session-1.scope"
    write(leaf / "memory.max", "max\n")
    write(leaf / "memory.current", "1000\n")
    write(leaf / "cpu.max", "max 100000\n")
    figures = cgroup_figures(tmp_path, "0::/user.slice/session-1.scope\n")
    assert figures == CgroupFigures(memory_limit=2**30, memory_used=1000, cpu_limit=None)


def test_cgroup_v1_and_unlimited(tmp_path):
    write(tmp_path / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    write(tmp_path / "memory" / "memory.usage_in_bytes", "5000\n")
    write(tmp_path / "memory" / "memory.stat", "total_inactive_file 1000\n")
    write(tmp_path / "cpu" / "cpu.cfs_quota_us", "-1\n")
    write(tmp_path / "cpu" / "cpu.cfs_period_us", "100000\n")
    assert cgroup_figures(tmp_path, "4:memory:/\n1:cpu,cpuacct:/\n") == CgroupFigures(None, 4000, None)
    write(tmp_path / "memory" / "memory.limit_in_bytes", "536870912\n")
    write(tmp_path / "cpu" / "cpu.cfs_quota_us", "150000\n")
    assert cgroup_figures(tmp_path, "4:memory:/\n1:cpu,cpuacct:/\n") == CgroupFigures(512 * MiB, 4000, 1.5)


def test_no_cgroups_at_all(tmp_path):
    assert cgroup_figures(tmp_path / "absent", "") == CgroupFigures()


class FakeNVMLError(Exception):
    pass


def fake_nvml(devices: list[dict], init_error: bool = False) -> types.ModuleType:
    """A stand-in for ``pynvml`` (GPUs of any kind, on any machine): ``devices`` as NVML would report them.

    A device dict without ``temperature`` answers that query with an NVMLError (not supported).
    """
    nvml = types.ModuleType("pynvml")
    nvml.NVMLError = FakeNVMLError
    nvml.NVML_TEMPERATURE_GPU = 0

    def init():
        if init_error:
            raise FakeNVMLError("NVML Shared Library Not Found")

    def temperature(handle, sensor):
        assert sensor == nvml.NVML_TEMPERATURE_GPU
        if "temperature" not in handle:
            raise FakeNVMLError("Not Supported")
        return handle["temperature"]

    nvml.nvmlInit = init
    nvml.nvmlDeviceGetCount = lambda: len(devices)
    nvml.nvmlDeviceGetHandleByIndex = lambda i: devices[i]
    nvml.nvmlDeviceGetName = lambda h: h["name"]
    nvml.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=h["util"], memory=0)
    nvml.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=h["used"], total=h["total"], free=0)
    nvml.nvmlDeviceGetTemperature = temperature
    return nvml


def test_gpu_figures_from_nvml():
    nvml = fake_nvml([
        {"name": b"NVIDIA H100 80GB HBM3", "util": 37, "used": 1024 * MiB, "total": 80 * 1024 * MiB, "temperature": 41},
        {"name": "NVIDIA A10", "util": 0, "used": 0, "total": 24 * 1024 * MiB},
    ])
    figures = collect(nvml=nvml, interval=0.01)
    assert figures["gpu"] == "2 NVIDIA GPUs"
    assert figures["gpus"] == [
        {"index": 0, "name": "NVIDIA H100 80GB HBM3", "utilization": 37, "memory_used": 1024 * MiB,
         "memory_total": 80 * 1024 * MiB, "temperature": 41},
        {"index": 1, "name": "NVIDIA A10", "utilization": 0, "memory_used": 0, "memory_total": 24 * 1024 * MiB,
         "temperature": None},
    ]


def test_nvml_with_no_gpu_or_no_driver(monkeypatch):
    assert gpu.gpu_figures(fake_nvml([])) == []
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml([], init_error=True))
    assert gpu.load_nvml() is None
    monkeypatch.setitem(sys.modules, "pynvml", None)  # not installed: import fails
    assert gpu.load_nvml() is None
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml([{"name": "x", "util": 1, "used": 1, "total": 2}]))
    assert gpu.load_nvml() is sys.modules["pynvml"]


def test_installed_for_every_workspace_server():
    """The launcher tile is an entry point and the extension is enabled by a file in the environment."""
    from jupyter_server_proxy.config import get_entrypoint_server_processes

    [entry] = [p for p in get_entrypoint_server_processes() if p.name == "mllab-monitor"]
    assert (entry.launcher_entry.title, entry.launcher_entry.path_info) == ("Monitor", "mllab/monitor/")
    assert launcher.ICON.is_file()
    enabled = {}
    for folder in jupyter_config_path():
        for path in sorted((Path(folder) / "jupyter_server_config.d").glob("*.json")):
            enabled.update(json.loads(path.read_text()).get("ServerApp", {}).get("jpserver_extensions", {}))
    assert enabled.get("mllab.extensions.monitor") is True, "make setup installs mllab-monitor.json"
    assert enabled.get("jupyter_resource_usage") is True


@pytest.mark.parametrize("admin_says", [{}, {"track_cpu_percent": False}], ids=["defaults", "admin-set"])
def test_resource_usage_shows_cpu_and_disk_unless_configured(admin_says):
    """The status bar item of jupyter-resource-usage gets CPU and disk figures; an admin's setting wins."""
    serverapp = types.SimpleNamespace(config=Config({"ResourceUseDisplay": dict(admin_says)}))
    _link_jupyter_server_extension(serverapp)
    section = serverapp.config.ResourceUseDisplay
    assert section.track_cpu_percent is admin_says.get("track_cpu_percent", True)
    assert section.track_disk_usage is True


# --- through the hub --------------------------------------------------------------------

def test_endpoint_through_the_hub(hub):
    alice, _ = hub.add_user("alice")
    bob, _ = hub.add_user("bob")
    alice_token, bob_token = alice.new_token(), bob.new_token()
    spawn(hub, alice_token, "alice")
    try:
        response = api(hub, alice_token, "GET", "user/alice/api/mllab/monitor")
        assert response.status_code == 200, response.text
        figures = response.json()
        check_sane(figures)
        check_this_machines_gpus(figures)
        assert figures["disk"]["path"].endswith("users/alice")

        # No token: the API refuses, the page sends a browser to log in.  Bob's token: refused.
        anonymous = requests.get(hub.url + "user/alice/api/mllab/monitor", allow_redirects=False, timeout=30)
        assert anonymous.status_code == 403, (anonymous.status_code, anonymous.text[:300])
        assert_sent_to_login(hub, requests.get(hub.url + "user/alice/mllab/monitor/", allow_redirects=False,
                                               timeout=30), "alice")
        assert api(hub, bob_token, "GET", "user/alice/api/mllab/monitor").status_code == 403
        assert api(hub, bob_token, "GET", "user/alice/mllab/monitor/", allow_redirects=False).status_code == 403

        # The page the tile opens polls the endpoint; alice's browser login opens it.
        page = alice.get(hub.url + "user/alice/mllab/monitor/")
        assert page.status_code == 200, page.text[:300]
        assert 'data-api-url="/user/alice/api/mllab/monitor"' in page.text
        assert alice.get(hub.url + "user/alice/api/mllab/monitor").json()["memory"]["total"] > 0

        # The launcher tile, and jupyter-resource-usage's status bar figures with CPU and disk on.
        servers = api(hub, alice_token, "GET", "user/alice/server-proxy/servers-info").json()["server_processes"]
        [tile] = [s for s in servers if s["name"] == "mllab-monitor"]
        assert tile["launcher_entry"]["title"] == "Monitor"
        assert tile["launcher_entry"]["path_info"] == "mllab/monitor/"
        metrics = api(hub, alice_token, "GET", "user/alice/api/metrics/v1")
        assert metrics.status_code == 200, metrics.text
        assert {"rss", "cpu_percent", "cpu_count", "disk_used", "disk_total"} <= set(metrics.json())
    finally:
        stop_server(hub, alice_token, "alice")


def test_gpus_through_the_hub_are_nvidia_smis(hub):
    """On a GPU machine, a local workspace's monitor shows each GPU's name and memory as NVML
    reports them, and as ``nvidia-smi`` lists them where it is installed."""
    gpus = machine_gpus()
    if not gpus:
        pytest.skip("no NVIDIA GPU: NVML finds none")
    erin, _ = hub.add_user("erin")
    token = erin.new_token()
    spawn(hub, token, "erin")
    try:
        response = api(hub, token, "GET", "user/erin/api/mllab/monitor")
        assert response.status_code == 200, response.text
        shown = response.json()["gpus"]
        assert [(g["name"], g["memory_total"]) for g in shown] == gpus, shown
        for figures in shown:
            assert 0 <= figures["utilization"] <= 100, figures
            assert 0 <= figures["memory_used"] <= figures["memory_total"], figures

        smi = shutil.which("nvidia-smi")
        if smi:
            listed = subprocess.run([smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                                    capture_output=True, text=True, timeout=60, check=True).stdout
            rows = [line.rsplit(", ", 1) for line in listed.splitlines() if line.strip()]
            # nvidia-smi lists memory in whole MiB.
            assert [(g["name"], g["memory_total"] // MiB) for g in shown] == [(n, int(m)) for n, m in rows], listed
    finally:
        stop_server(hub, token, "erin")


@pytest.mark.slow
def test_endpoint_in_a_container_reports_its_limits(make_docker_hub):
    """A podman workspace of the ``small`` profile: its own cgroup's 512 MiB and half a core."""
    hub = make_docker_hub()
    carol, _ = hub.add_user("carol")
    token = carol.new_token()
    spawn(hub, token, "carol", timeout=180)
    try:
        response = api(hub, token, "GET", "user/carol/api/mllab/monitor")
        assert response.status_code == 200, response.text
        figures = response.json()
        check_sane(figures)
        assert figures["memory"]["limit_source"] == "cgroup"
        assert figures["memory"]["total"] == 512 * MiB
        assert figures["cpu"]["limit"] == 0.5
        assert figures["disk"]["path"] == "/home/jovyan"
        # The small profile asks for no GPU: none in the container, whatever the machine has.
        assert (figures["gpus"], figures["gpu"]) == ([], "no GPU")
        assert api(hub, token, "GET", "user/carol/mllab/monitor/").status_code == 200
        anonymous = requests.get(hub.url + "user/carol/api/mllab/monitor", allow_redirects=False, timeout=30)
        assert anonymous.status_code == 403, (anonymous.status_code, anonymous.text[:300])
    finally:
        stop_server(hub, token, "carol")
