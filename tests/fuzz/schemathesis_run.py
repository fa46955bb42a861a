"""Running schemathesis (its CLI, as a user of the service would) against a live service's OpenAPI document."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from ..harness import scrape

#: Every check that judges one answer against the document; the stateful ones need links the
#: documents do not declare.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "ignored_auth",
]
#: Examples per operation and phase: enough to walk every pattern, few enough for CI on 2 cores.
MAX_EXAMPLES = 10
SEED = 20261128
#: A request the document calls valid may still be refused for what no schema states: 422 (values
#: that contradict each other), 413 (a body longer than the file it sends), besides permissions and
#: state; never 400 (the document lied) nor a 5xx (not_a_server_error reports those).  An invalid
#: one is refused with a 4xx, never served.  Every request carries a valid token, so neither is
#: ever 401: the documents' ``4XX`` lets a 401 conform, so only these lists catch a service that
#: refuses every token (one that forbids everything instead shows in `Run.served`).
STATUSES = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "403", "404", "409", "413", "422"]
[checks.negative_data_rejection]
expected-statuses = ["400", "403", "404", "405", "409", "413", "422"]
"""


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float
    #: Test cases generated and sent.
    cases: int
    #: Requests the service answered 2xx, during the run, on operations that need a token: by its
    #: own request metrics, so a service that refuses everyone shows as 0 whatever the checks say.
    served: int


def run_schemathesis(service_url: str, token: str, metrics_token: str, config: str, work: Path,
                     max_examples: int = MAX_EXAMPLES) -> Run:
    """``schemathesis run`` against the service at ``service_url`` (``.../services/<name>/``) with
    ``token``, the checks above and ``config`` (TOML: parameters, dictionaries); ``metrics_token``
    (``read:metrics``) reads the service's request counts before and after."""
    openapi_url, metrics_url = service_url + "api/v1/openapi.json", service_url + "metrics"
    guarded = _guarded_operations(requests.get(openapi_url, timeout=30).json())
    before = scrape(metrics_url, metrics_token)
    config_file = work / "schemathesis.toml"
    config_file.write_text(config + STATUSES)
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config_file), "--no-color",
        "run", openapi_url,
        "--header", f"Authorization: token {token}",
        "--checks", ",".join(CHECKS),
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(max_examples),
        "--seed", str(SEED),
        "--workers", "1",
        "--request-timeout", "30",
        "--continue-on-failure",
    ]
    start = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=work)
    seconds = time.monotonic() - start
    output = done.stdout + done.stderr
    cases = re.search(r"(\d+) generated", output)
    served = _successes(scrape(metrics_url, metrics_token), guarded) - _successes(before, guarded)
    return Run(done.returncode, _without_token(output, token), seconds, int(cases.group(1)) if cases else 0,
               int(served))


def _guarded_operations(document: dict) -> set[tuple[str, str]]:
    """``(METHOD, path)`` of the operations that need a token, less the metrics: the scrapes of
    `run_schemathesis` are answered 200 there, the fuzzer's (alice holds no ``read:metrics``) never."""
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") != [] and path != "/metrics"
    }


def _successes(metrics: dict, operations: set[tuple[str, str]]) -> float:
    """Requests answered 2xx on ``operations``; a route label's ``{name:path}`` is ``{name}`` in the document."""
    total = 0.0
    for (name, frozen), value in metrics.items():
        labels = dict(frozen)
        if (name == "mllab_request_duration_seconds_count" and labels["code"].startswith("2")
                and (labels["method"], labels["route"].replace(":path}", "}")) in operations):
            total += value
    return total


def _without_token(output: str, token: str) -> str:
    return output.replace(token, "<token>")
