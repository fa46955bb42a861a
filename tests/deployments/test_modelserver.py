"""``mllab.services.deployments.modelserver``: MLflow's scoring server with the Open Inference Protocol.

In-process (httpx's ASGI transport, straight into the FastAPI app) for the protocol's cases, and once as a real process
(``python -m mllab.services.deployments.modelserver``) on a free port.
"""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
import requests
from mllab.services.deployments import modelserver

from ..harness import free_port, stop_process_tree, wait_for
from .conftest import mlflow_request, v2_request


@pytest.fixture(scope="module")
def app(sklearn_model):
    return modelserver.build_app(str(sklearn_model.path), "iris")


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://model") as client:
        yield client


async def test_v2_infer_one_tensor(client, sklearn_model):
    """One ``[n, 4]`` tensor becomes a DataFrame with the signature's column names."""
    answer = await client.post("/v2/models/iris/infer", json=v2_request(sklearn_model))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "model_name": "iris", "id": "req-1",
        "outputs": [{"name": "predict", "shape": [3], "datatype": "INT64", "data": sklearn_model.expected}],
    }


async def test_v2_infer_columns_by_name(client, sklearn_model):
    columns = list(zip(*sklearn_model.rows, strict=True))
    inputs = [{"name": name, "shape": [3], "datatype": "FP32", "data": list(values)}
              for name, values in zip(sklearn_model.columns, columns, strict=True)]
    answer = await client.post("/v2/models/iris/infer", json={"inputs": inputs})
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == sklearn_model.expected
    assert "id" not in answer.json()


async def test_v2_nested_data(client, sklearn_model):
    """``data`` may be nested as the shape, or flat (row-major); both are read."""
    body = {"inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP64", "data": sklearn_model.rows}]}
    answer = await client.post("/v2/models/iris/infer", json=body)
    assert answer.json()["outputs"][0]["data"] == sklearn_model.expected


async def test_mlflow_invocations(client, sklearn_model):
    answer = await client.post("/invocations", json=mlflow_request(sklearn_model))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": sklearn_model.expected}
    records = [dict(zip(sklearn_model.columns, row, strict=True)) for row in sklearn_model.rows]
    assert (await client.post("/invocations", json={"dataframe_records": records})).json() == {
        "predictions": sklearn_model.expected}


@pytest.mark.parametrize(
    "path",
    ["/v2/health/live", "/v2/health/ready", "/v2/models/iris/ready", "/ping", "/health"],
)
async def test_health(client, path):
    assert (await client.get(path)).status_code == 200


async def test_v2_metadata(client, sklearn_model):
    assert (await client.get("/v2")).json()["name"] == "mllab-model-server"
    metadata = (await client.get("/v2/models/iris")).json()
    assert metadata["name"] == "iris"
    assert [(i["name"], i["datatype"]) for i in metadata["inputs"]] == [(c, "FP64") for c in sklearn_model.columns]
    assert [(o["name"], o["datatype"]) for o in metadata["outputs"]] == [("predict", "INT64")]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json", "not JSON"),
        ({"data": [1, 2]}, '{"inputs": ['),
        ({"inputs": []}, "at least one tensor"),
        ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64"}]}, "lacks data"),
        ({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [1.0, 2.0]}]},
         "2 values do not fill shape [2, 4]"),
        ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP99", "data": [1, 2, 3, 4]}]},
         "datatype 'FP99' is not one of"),
        ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ["a", "b", "c", "d"]}]},
         "data is not FP64"),
        ({"inputs": [{"name": "x", "shape": [1, -4], "datatype": "FP64", "data": [1, 2, 3, 4]}]},
         "non-negative integers"),
        ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
         "one [n, 4] tensor, or one [n] tensor per column named sepal_length"),
        ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT64", "data": [5, 3, 1, 0]}]},
         "the model refused the input"),
    ],
    ids=["not-json", "no-inputs", "empty-inputs", "no-data", "wrong-size", "bad-datatype", "bad-values",
         "negative-shape", "wrong-columns", "int-for-double"],
)
async def test_v2_bad_payload(client, body, error):
    """Each bad request is a 400 with ``{"error": ...}`` that says what is wrong."""
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    answer = await client.post("/v2/models/iris/infer", **kwargs)
    assert answer.status_code == 400, answer.text
    assert list(answer.json()) == ["error"]
    assert error in answer.json()["error"]


async def test_v2_other_model_name(client, sklearn_model):
    answer = await client.post("/v2/models/other/infer", json=v2_request(sklearn_model))
    assert answer.status_code == 404
    assert answer.json() == {"error": "no model 'other' here; this server serves 'iris'"}
    assert (await client.get("/v2/models/other/ready")).status_code == 404


async def test_mlflow_bad_payload(client):
    """MLflow's own protocol keeps MLflow's own errors (400 with ``error_code`` and ``message``)."""
    answer = await client.post("/invocations", json={"dataframe_records": [{"sepal_length": 1.0}]})
    assert answer.status_code == 400
    assert "missing inputs" in answer.json()["message"]


def test_as_a_process(sklearn_model, assert_serves):
    """``python -m mllab.services.deployments.modelserver`` serves both protocols on its port."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mllab.services.deployments.modelserver", "--model-dir",
                             str(sklearn_model.path), "--name", "iris", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: proc.poll() is None and requests.get(f"{url}/v2/health/ready", timeout=1).ok,
                 timeout=60, what="the model server")
        assert_serves(url, "iris")
    finally:
        stop_process_tree(proc)
    output = proc.stdout.read()
    assert f"Serving model iris from {sklearn_model.path} at http://127.0.0.1:{port}/" in output
