"""S3 drill for the deployments service: the registry's S3 storage stops while a deployment fetches
its model, and comes back.

The deployment fails with a message that says what is wrong (not a traceback), and once S3 is back
a restart of the deployment (no restart of any service) makes it ready and serving.
"""

from __future__ import annotations

import secrets

import pytest

pytestmark = pytest.mark.slow


def test_fetch_fails_clearly_then_recovers(make_model_lab, s3_gate):
    lab = make_model_lab(
        "c.MLLab.storage = 's3'",
        f"c.MLLab.s3_endpoint_url = {s3_gate.url!r}",
        f"c.MLLab.s3_bucket = 'deploy-{secrets.token_hex(4)}'",
        "c.MLLab.s3_access_key_id = 'testing'",
        "c.MLLab.s3_secret_access_key = 'testing'",
    )
    alice = lab.lab.api("alice")
    model = lab.register("iris")

    s3_gate.close()
    alice.create(model=model, name="iris")
    failed = lab.wait_settled("users/alice/iris", timeout=240)
    assert failed["status"] == "failed", failed
    message = failed["message"]
    assert "Traceback" not in message and "{" not in message, message
    assert "users/alice/iris" in message and ("S3" in message or "storage" in message or "registry" in message), \
        message
    assert lab.workloads_of("iris") == set()
    proxied = alice.endpoint("users/alice/iris", "invocations", method="POST", json={})
    assert proxied.status_code == 503, proxied.text

    s3_gate.open()
    restarted = alice.post("deployments/users/alice/iris/restart")
    assert restarted.status_code == 200, restarted.text
    ready = alice.wait("users/alice/iris", "ready", timeout=180)
    assert ready["message"] is None
    assert lab.predict("users/alice/iris") == lab.model.expected
    assert len(lab.workloads_of("iris")) == 1
