"""schemathesis against the deployments service's OpenAPI document, as alice (her own scopes).

The service is the real one (``mllab up``, its state on PostgreSQL, workloads as local
processes), the run bounded to fit CI.  Generated path owners are mostly alice and names often
her job ``nightly`` (``true`` on a schedule), so requests reach a job and its runs.  Bodies keep
their generated namespaces: those are not alice's, so nothing the fuzzer writes ever runs.
"""

from __future__ import annotations

from ..deployments.conftest import API, DeploymentsAPI
from .schemathesis_run import run_schemathesis

SERVICE = API.removesuffix("api/v1/")

CONFIG = """
[dictionaries.owner]
values = ["alice"]
[dictionaries.name]
values = ["nightly"]

[parameters]
"path.owner_kind" = "users"
"path.owner" = { dictionary = "owner", probability = 0.7 }
"path.name" = { dictionary = "name", probability = 0.5 }
"""


def test_deployments_conform_to_their_openapi_document(deployments_hub, tmp_path):
    alice = DeploymentsAPI(deployments_hub.hub, deployments_hub.token)
    job = alice.post("jobs", json={"namespace": "users/alice", "name": "nightly", "command": ["true"],
                                   "schedule": "0 3 * * *"})
    assert job.status_code == 201, job.text
    assert alice.post("jobs/users/alice/nightly/runs").status_code == 201
    run = run_schemathesis(deployments_hub.hub.url + SERVICE, deployments_hub.token, deployments_hub.metrics_token,
                           CONFIG, tmp_path)
    print(f"deployments: {run.cases} cases, {run.served} served, in {run.seconds:.0f} s")
    assert run.returncode == 0, run.output[-20000:]
    assert run.cases > 500, f"only {run.cases} cases: the document lost its operations?\n{run.output[-5000:]}"
    # Few cases are served, as nothing written may run (reads of alice's job and the lists); a
    # healthy run serves 12 of 1287 with this seed, one that refuses alice none.
    assert run.served >= run.cases // 200, f"only {run.served} of {run.cases} cases served: is alice refused?"
