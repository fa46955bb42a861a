"""``client.deployments`` against a small recording HTTP server: the requests it sends, what it makes of the answers.

The server is `fake_service.FakeService` (the ``fake`` fixture). The same flows against the real
service are in ``test_deployments_cli.py``.
"""

from __future__ import annotations

import threading
import time

import pytest
from mllab.client import Client, RefError, RegistryError
from mllab.client import http as http_module
from mllab.client.deployments import DeploymentFailed, SpecError, WaitTimeout

from .fake_service import API, ENDPOINTS, Answer


def deployment(name: str = "churn", status: str = "pending", namespace: str = "users/alice", **extra) -> dict:
    """A Deployment as API.md describes it."""
    full_name = f"{namespace}/{name}"
    return {"namespace": namespace, "name": name, "full_name": full_name, "kind": "model",
            "model": f"{full_name}@production", "model_version": 3, "image": None, "command": [], "env": {},
            "port": None, "resources": {}, "replicas": 1, "status": status, "message": None, "desired": "running",
            "url": f"/services/deployments/endpoints/{full_name}/", "created_at": "2026-01-02T03:04:05Z",
            "updated_at": "2026-01-02T03:04:05Z", "created_by": "alice", "last_access": None, "idle_timeout": 0,
            **extra}


# -- creating ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        pytest.param({"model": "churn@production"}, {"model": "users/alice/churn@production"},
                     id="plain-model-name-is-the-callers"),
        pytest.param({"model": "groups/vision/cnn:3", "image": "ghcr.io/acme/torch-serving:2", "cpu": 1.5,
                      "memory": "2G", "gpus": 1, "env": {"MODE": "fast"}, "idle_timeout": 600},
                     {"model": "groups/vision/cnn:3", "image": "ghcr.io/acme/torch-serving:2",
                      "resources": {"cpu_limit": 1.5, "mem_limit": "2G", "gpus": 1}, "env": {"MODE": "fast"},
                      "idle_timeout": 600}, id="model-with-image-and-resources"),
        pytest.param({"model": "users/bob/churn@staging", "name": "churn-staging"},
                     {"model": "users/bob/churn@staging", "name": "churn-staging"}, id="model-renamed"),
        pytest.param({"model": "churn@production", "name": "groups/vision/churn"},
                     {"model": "users/alice/churn@production", "namespace": "groups/vision", "name": "churn"},
                     id="model-into-a-team-namespace"),
        pytest.param({"model": "churn@production", "namespace": "groups/vision"},
                     {"model": "users/alice/churn@production", "namespace": "groups/vision"}, id="namespace-only"),
        pytest.param({"name": "web", "command": "python -m http.server '$PORT'", "port": 8000, "replicas": 2},
                     {"namespace": "users/alice", "name": "web", "command": ["python", "-m", "http.server", "$PORT"],
                      "port": 8000, "replicas": 2}, id="service-from-a-command-string"),
        pytest.param({"name": "web", "namespace": "groups/vision", "image": "nginx:1.27", "command": ["nginx", "-g",
                      "daemon off;"], "port": 80, "memory": 536870912},
                     {"namespace": "groups/vision", "name": "web", "image": "nginx:1.27",
                      "command": ["nginx", "-g", "daemon off;"], "port": 80, "resources": {"mem_limit": 536870912}},
                     id="service-from-an-image"),
    ],
)
def test_create_sends_the_spec_of_api_md(fake, client, kwargs, body):
    fake.on("POST", API + "deployments", Answer(201, deployment()))
    assert client.deployments.create(**kwargs)["status"] == "pending"
    [sent] = fake.sent("POST")
    assert sent.path == API + "deployments"
    assert sent.body == body
    assert sent.headers["Authorization"] == "token secret-token"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"model": "churn", "port": 8000}, "takes no port", id="model-with-port"),
        pytest.param({"model": "churn", "command": "python x.py", "replicas": 2}, "takes no command, replicas",
                     id="model-with-command"),
        pytest.param({}, "Give a model to deploy, or a name", id="nothing"),
        pytest.param({"name": "web", "port": 80}, "needs an image or a command", id="service-without-program"),
        pytest.param({"name": "web", "command": "x"}, "needs the port", id="service-without-port"),
        pytest.param({"name": "web", "command": "", "port": 80}, "command is empty", id="empty-command"),
        pytest.param({"name": "Web_1", "command": "x", "port": 80}, "'Web_1' is not valid", id="bad-name"),
        pytest.param({"name": "users/bob/web", "namespace": "users/alice", "command": "x", "port": 80},
                     "not in the namespace given", id="two-namespaces"),
        pytest.param({"model": "churn:zero"}, "is not valid", id="bad-model-ref"),
    ],
)
def test_create_refuses_what_cannot_be_sent(fake, client, kwargs, message):
    with pytest.raises((SpecError, RefError), match=message):
        client.deployments.create(**kwargs)
    assert fake.sent("POST") == []


def test_create_and_wait_answers_the_ready_deployment(fake, client, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    fake.on("POST", API + "deployments", Answer(201, deployment()))
    fake.on("GET", API + "deployments/users/alice/churn", Answer(body=deployment(status="starting")),
            Answer(body=deployment(status="ready")))
    assert client.deployments.create("churn@production", wait=True, progress=False)["status"] == "ready"
    assert len(fake.sent("GET", API + "deployments/users/alice/churn")) == 2


# -- references --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("churn@production", "names a version", id="alias"),
        pytest.param("users/alice/churn:3", "names a version", id="number"),
        pytest.param("teams/x/churn", "Namespace 'teams/x' is not valid", id="bad-namespace"),
        pytest.param("Churn", "lowercase", id="uppercase"),
        pytest.param("a" * 41, "at most|1-40", id="too-long"),
        pytest.param("-churn", "starting and ending", id="leading-dash"),
    ],
)
def test_bad_deployment_references_are_refused_before_sending(fake, client, text, message):
    with pytest.raises(RefError, match=message):
        client.deployments.get(text)
    assert fake.sent() == []


def test_plain_names_are_in_the_callers_namespace(fake, client):
    fake.on("GET", API + "deployments/users/alice/churn", Answer(body=deployment()))
    fake.on("GET", API + "deployments/groups/vision/cnn", Answer(body=deployment("cnn", namespace="groups/vision")))
    client.deployments.get("churn")
    client.deployments.get("groups/vision/cnn/")
    assert [r.path for r in fake.sent()] == [API + "deployments/users/alice/churn",
                                             API + "deployments/groups/vision/cnn"]
    assert sum(r.path == "/hub/api/user" for r in fake.requests) == 1, "who the caller is is asked once"


# -- operating ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["start", "stop", "restart", "rollout"])
def test_actions_post_to_their_route(fake, client, action):
    path = f"{API}deployments/users/alice/churn/{action}"
    fake.on("POST", path, Answer(body=deployment(status="starting")))
    assert getattr(client.deployments, action)("churn")["status"] == "starting"
    assert [(r.method, r.path, r.body) for r in fake.sent()] == [("POST", path, None)]


def test_delete(fake, client):
    fake.on("DELETE", API + "deployments/groups/vision/cnn", Answer(204))
    assert client.deployments.delete("groups/vision/cnn") is None
    assert [r.method for r in fake.sent()] == ["DELETE"]


def test_list_pages_through_everything(fake, client, monkeypatch):
    monkeypatch.setattr(http_module, "PAGE", 2)
    items = [deployment(f"d{i}") for i in range(3)]
    fake.on("GET", API + "deployments", Answer(body={"items": items[:2], "limit": 2, "next": "WyJkMSJd"}),
            Answer(body={"items": items[2:], "limit": 2, "next": None}))
    assert [d["name"] for d in client.deployments.list(namespace="groups/vision/")] == ["d0", "d1", "d2"]
    assert [r.params for r in fake.sent()] == [{"namespace": "groups/vision", "limit": "2"},
                                               {"namespace": "groups/vision", "limit": "2", "after": "WyJkMSJd"}]


def test_wait_says_why_it_failed(fake, client, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    fake.on("GET", API + "deployments/users/alice/churn", Answer(body=deployment(status="starting")),
            Answer(body=deployment(status="failed", message="model server exited with 1")))
    with pytest.raises(DeploymentFailed, match=r"users/alice/churn failed: model server exited with 1\. Its log: "
                                                r"mllab deployments logs users/alice/churn"):
        client.deployments.wait("churn", progress=False)


def test_wait_for_a_stopped_deployment_to_be_ready_says_how_to_start_it(fake, client):
    fake.on("GET", API + "deployments/users/alice/churn", Answer(body=deployment(status="stopped", desired="stopped")))
    with pytest.raises(DeploymentFailed, match="mllab deployments start users/alice/churn"):
        client.deployments.wait("churn", progress=False)


def test_wait_gives_up_after_its_timeout(fake, client):
    fake.on("GET", API + "deployments/users/alice/churn", Answer(body=deployment(status="starting")))
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match="still starting after 1 s"):
        client.deployments.wait("churn", timeout=0.6, progress=False, interval=0.1)
    assert time.monotonic() - started < 5


def test_wait_for_another_status(fake, client):
    fake.on("GET", API + "deployments/users/alice/churn", Answer(body=deployment(status="stopped",
                                                                                  desired="stopped")))
    assert client.deployments.wait("churn", status="stopped", progress=False)["status"] == "stopped"
    with pytest.raises(SpecError, match="not one of"):
        client.deployments.wait("churn", status="running")


# -- logs --------------------------------------------------------------------------------------------

def test_logs_with_tail(fake, client):
    fake.on("GET", API + "deployments/users/alice/churn/logs", Answer(text="one\ntwo\n"))
    assert client.deployments.logs("churn", tail=2) == "one\ntwo\n"
    assert fake.sent()[0].params == {"tail": "2"}


def test_followed_logs_arrive_line_by_line_as_they_come(fake, client):
    """The second line is only sent once the test has read the first: lines are not held back."""
    first_read = threading.Event()
    fake.on("GET", API + "deployments/users/alice/churn/logs",
            Answer(stream=["starting server", first_read, "listening on 8080", "bye é"]))
    lines = client.deployments.logs("churn", follow=True)
    assert next(lines) == "starting server"
    first_read.set()
    assert list(lines) == ["listening on 8080", "bye é"]
    assert fake.sent()[0].params == {"follow": "1"}


# -- calling -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("protocol", "path", "payload", "answer"),
    [
        pytest.param("mlflow", ENDPOINTS + "users/alice/churn/invocations",
                     {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}, {"predictions": [1]}, id="mlflow"),
        pytest.param("v2", ENDPOINTS + "users/alice/churn/v2/models/churn/infer",
                     {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]},
                     {"model_name": "churn", "outputs": [{"name": "predict", "shape": [1], "datatype": "INT64",
                                                          "data": [1]}]}, id="v2"),
    ],
)
def test_predict_posts_to_the_endpoint_with_the_token(fake, client, protocol, path, payload, answer):
    fake.on("POST", path, Answer(body=answer))
    assert client.deployments.predict("churn", payload, protocol=protocol) == answer
    [sent] = fake.sent()
    assert (sent.path, sent.body, sent.headers["Authorization"]) == (path, payload, "token secret-token")


def test_predict_errors_carry_the_services_message(fake, client):
    fake.on("POST", ENDPOINTS + "users/alice/churn/invocations",
            Answer(503, {"error": "not_ready", "message": "users/alice/churn is starting; try again shortly."}))
    with pytest.raises(RegistryError) as info:
        client.deployments.predict("churn", {"inputs": [[1]]})
    assert (info.value.status, info.value.error) == (503, "not_ready")
    assert info.value.message == "users/alice/churn is starting; try again shortly."
    with pytest.raises(SpecError, match="not one of mlflow, v2"):
        client.deployments.predict("churn", {}, protocol="grpc")


def test_service_errors_carry_the_services_message(fake, client):
    fake.on("POST", API + "deployments", Answer(403, {"error": "forbidden", "message": "alice may not read model "
                                                                                       "users/bob/churn"}))
    with pytest.raises(RegistryError, match=r"alice may not read model users/bob/churn \(403 forbidden\)"):
        client.deployments.create("users/bob/churn@production")


@pytest.mark.parametrize(
    ("hub", "url", "endpoint"),
    [
        pytest.param("http://127.0.0.1:8000/", "/services/deployments/endpoints/users/alice/churn/",
                     "http://127.0.0.1:8000/services/deployments/endpoints/users/alice/churn/", id="root"),
        pytest.param("https://x.org/lab/", "/lab/services/deployments/endpoints/users/alice/churn/",
                     "https://x.org/lab/services/deployments/endpoints/users/alice/churn/", id="hub-under-a-prefix"),
        pytest.param("https://x.org/lab/", None,
                     "https://x.org/lab/services/deployments/endpoints/users/alice/churn/", id="no-url-in-answer"),
    ],
)
def test_endpoint_urls(tmp_path, hub, url, endpoint):
    with Client(hub, "t", env={"MLLAB_CACHE_DIR": str(tmp_path)}) as c:
        assert c.deployments.url_of(deployment(url=url)) == endpoint
        assert c.deployments.endpoint_url("users/alice/churn") == (
            hub + "services/deployments/endpoints/users/alice/churn/")
        assert c.settings.deployments_url == hub + "services/deployments/"
