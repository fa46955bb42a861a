"""The newcomer's loop on ``mllab up`` with nothing else set up: a model trained here, saved in
MLflow's format, registered and given an alias with the CLI, ``mllab deploy``, then ``mllab
predict`` over both protocols, and the platform URL refusing whoever may not invoke it."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from ..harness import MLLAB, env_with_node
from .conftest import mlflow_request, v2_request

pytestmark = pytest.mark.slow


def mllab(hub, token: str, cache, *argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in env_with_node().items() if not k.startswith("JUPYTERHUB_")}
    env.update(MLLAB_URL=hub.url, MLLAB_TOKEN=token, MLLAB_CACHE_DIR=str(cache))
    result = subprocess.run([MLLAB, *argv], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, f"mllab {' '.join(argv)}: {result.stderr}"
    return result


def test_register_deploy_predict_on_mllab_up(hub, sklearn_model, tmp_path):
    alice, _ = hub.add_user("erin")
    bob, _ = hub.add_user("frank")
    token = alice.new_token()
    cache = tmp_path / "cache"

    mllab(hub, token, cache, "models", "register", str(sklearn_model.path), "iris-clf")
    mllab(hub, token, cache, "models", "alias", "iris-clf:1", "production")
    deployed = mllab(hub, token, cache, "deploy", "users/erin/iris-clf@production")
    url = f"{hub.url}services/deployments/endpoints/users/erin/iris-clf/"
    assert url in deployed.stdout

    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(mlflow_request(sklearn_model)))
    answer = json.loads(mllab(hub, token, cache, "predict", "iris-clf", "--json", str(payload)).stdout)
    assert answer == {"predictions": sklearn_model.expected}
    payload.write_text(json.dumps(v2_request(sklearn_model)))
    answer = json.loads(mllab(hub, token, cache, "predict", "iris-clf", "--v2", "--json", str(payload)).stdout)
    assert answer["outputs"][0]["data"] == sklearn_model.expected
    assert answer["model_name"] == "iris-clf"

    # The platform URL, as any HTTP client calls it: a token as "token" or "bearer".
    infer = url + "v2/models/iris-clf/infer"
    for scheme in ("token", "bearer"):
        ok = requests.post(infer, json=v2_request(sklearn_model), headers={"Authorization": f"{scheme} {token}"},
                           timeout=30)
        assert ok.status_code == 200, ok.text

    # Refused: no token, another user's, and the owner's own token without the invoke scope.
    assert requests.post(infer, json=v2_request(sklearn_model), timeout=30).status_code == 401
    for other in (bob.new_token(), alice.new_token(scopes=["custom:deployments:read!user=erin"])):
        refused = requests.post(infer, json=v2_request(sklearn_model), headers={"Authorization": f"token {other}"},
                                timeout=30)
        assert refused.status_code == 403, refused.text
        assert "custom:deployments:invoke" in refused.json()["message"]
