"""TensorBoard as a workspace tool: ``/user/<name>/tensorboard/`` on ``~/tensorboard``."""

from __future__ import annotations

import pytest

from ..harness import api, spawn, wait_for
from .tools import assert_refused

pytestmark = pytest.mark.slow


def write_run(logdir, run: str = "run1") -> None:
    """A run of three ``loss`` scalars, written with TensorBoard's own (TensorFlow-free) writer."""
    from tensorboard.summary import Writer

    writer = Writer(str(logdir / run))
    for step, loss in enumerate([1.0, 0.5, 0.25]):
        writer.add_scalar("loss", loss, step)
    writer.flush()
    writer.close()


def test_tensorboard_shows_a_run_through_the_proxy(hub):
    alice, _ = hub.add_user("alice")
    token = alice.new_token()
    spawn(hub, token, "alice")
    write_run(hub.data_dir / "users" / "alice" / "tensorboard")

    page = api(hub, token, "GET", "user/alice/tensorboard/")
    assert page.status_code == 200, page.text[:500]
    assert "<tf-tensorboard" in page.text or "TensorBoard" in page.text

    def runs():
        response = api(hub, token, "GET", "user/alice/tensorboard/data/runs")
        assert response.status_code == 200, response.text[:300]
        return "run1" in response.json()

    wait_for(runs, timeout=60, what="run1 in TensorBoard")
    scalars = api(hub, token, "GET", "user/alice/tensorboard/data/plugin/scalars/scalars?run=run1&tag=loss")
    assert scalars.status_code == 200, scalars.text[:300]
    assert [point[2] for point in scalars.json()] == [1.0, 0.5, 0.25]


def test_tensorboard_refused_to_others(hub):
    carol, _ = hub.add_user("carol")
    spawn(hub, carol.new_token(), "carol")
    dave, _ = hub.add_user("dave")
    dave_token = dave.new_token()
    assert_refused(hub, "user/carol/tensorboard/", dave_token)
    assert_refused(hub, "user/carol/tensorboard/data/runs", dave_token)


WRITE_RUN = """
from tensorboard.summary import Writer
writer = Writer("/home/jovyan/tensorboard/run1")
for step, loss in enumerate([1.0, 0.5, 0.25]):
    writer.add_scalar("loss", loss, step)
writer.close()
"""


def test_tensorboard_in_a_container_workspace(make_docker_hub, docker_client):
    hub = make_docker_hub()
    alice, _ = hub.add_user("alice")
    token = alice.new_token()
    spawn(hub, token, "alice", timeout=180)
    container = docker_client.containers.get(f"{hub.env['MLLAB_TEST_PREFIX']}-alice")
    written = container.exec_run(["python3", "-c", WRITE_RUN], user="1000")
    assert written.exit_code == 0, written.output.decode()

    def runs():
        response = api(hub, token, "GET", "user/alice/tensorboard/data/runs")
        assert response.status_code == 200, response.text[:300]
        return "run1" in response.json()

    wait_for(runs, timeout=60, what="run1 in TensorBoard")
