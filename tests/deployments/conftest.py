"""Fixtures of the deployments tests.

Runtimes and the model server (`sklearn_model`, `model_server_image`) are in the first section;
the service's fixtures follow in a section of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

# --- runtimes and the model server -------------------------------------------------------------


@dataclass(frozen=True)
class SavedModel:
    """A small scikit-learn model saved in MLflow's format, and what it predicts."""

    path: Path
    columns: list[str]
    #: A few rows to predict (one of each class) and the classes the model gives them.
    rows: list[list[float]]
    expected: list[int]


@pytest.fixture(scope="session")
def sklearn_model(tmp_path_factory) -> SavedModel:
    """A LogisticRegression on iris with named columns and a signature, saved with ``mlflow.sklearn``.

    MLflow saves scikit-learn models in the ``skops`` format by default, so loading it needs
    the ``skops`` package, as a user's model would.
    """
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, target = load_iris(return_X_y=True, as_frame=True)
    features.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    model = LogisticRegression(max_iter=1000).fit(features, target)
    path = tmp_path_factory.mktemp("model") / "iris"
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(features, model.predict(features)))
    rows = features.iloc[[0, 60, 120]]
    expected = [int(v) for v in model.predict(rows)]
    assert sorted(expected) == [0, 1, 2], "the rows should be one of each class"
    return SavedModel(path, list(features.columns), rows.to_numpy().tolist(), expected)


def v2_request(model: SavedModel) -> dict:
    """An Open Inference Protocol request: the rows as one FP64 ``[n, k]`` tensor."""
    return {"id": "req-1", "inputs": [{"name": "input", "shape": [len(model.rows), len(model.columns)],
                                       "datatype": "FP64", "data": [v for row in model.rows for v in row]}]}


def mlflow_request(model: SavedModel) -> dict:
    """MLflow's scoring protocol: the rows as ``dataframe_split``."""
    return {"dataframe_split": {"columns": model.columns, "data": model.rows}}


@pytest.fixture
def assert_serves(sklearn_model):
    """``assert_serves(base_url, name)``: the model answers both protocols there, correctly."""
    import requests

    def check(base_url: str, name: str) -> None:
        base = base_url.rstrip("/")
        assert requests.get(f"{base}/v2/health/ready", timeout=10).status_code == 200
        answer = requests.post(f"{base}/v2/models/{name}/infer", json=v2_request(sklearn_model), timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "model_name": name, "id": "req-1",
            "outputs": [{"name": "predict", "shape": [3], "datatype": "INT64", "data": sklearn_model.expected}],
        }
        answer = requests.post(f"{base}/invocations", json=mlflow_request(sklearn_model), timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": sklearn_model.expected}

    return check
