"""``mllab deploy|deployments|predict|jobs``: argument parsing, and the CLI run as a subprocess against the
recording HTTP server of test_deployments (what it sends, prints and exits with), without a hub."""

from __future__ import annotations

import json
import subprocess

import pytest
from mllab.client.commands import build_parser

from ..harness import MLLAB
from .fake_service import API, ENDPOINTS, Answer
from .test_deployments import deployment
from .test_jobs import JOB, job, run


def parse(*argv):
    return build_parser().parse_args(list(argv))


# -- parsing -----------------------------------------------------------------------------------------

def test_deploy_a_model_with_resources():
    args = parse("deploy", "users/alice/churn@production", "--cpu", "0.5", "--memory", "2G", "--gpus", "1",
                 "--env", "A=1", "--idle-timeout", "600", "--no-wait")
    assert (args.model, args.service, args.cpu, args.memory, args.gpus, args.env, args.idle_timeout, args.wait) == (
        "users/alice/churn@production", None, 0.5, "2G", 1, [("A", "1")], 600, False)
    assert args.api == "deployments"


def test_deploy_a_service():
    args = parse("deploy", "--service", "web", "--command", "python -m http.server $PORT", "--port", "8000",
                 "--replicas", "2")
    assert (args.model, args.service, args.service_command, args.port, args.replicas, args.wait) == (
        None, "web", "python -m http.server $PORT", 8000, 2, True)


def test_jobs_run_takes_everything_after_dashes_as_the_command():
    args = parse("jobs", "run", "etl", "--env", "X=1", "--wait", "--", "python", "-c", "print(1)", "--wait", "--",
                 "x")
    assert (args.name, args.job_command, args.env, args.wait) == (
        "etl", ["python", "-c", "print(1)", "--wait", "--", "x"], [("X", "1")], True)
    assert parse("jobs", "run", "etl").job_command == []


def test_predict_reads_a_payload_file_and_picks_the_protocol():
    args = parse("predict", "churn", "--json", "-", "--v2")
    assert (args.ref, args.payload, args.protocol, args.api) == ("churn", "-", "v2", "deployments")
    assert parse("predict", "churn", "--json", "p.json").protocol == "mlflow"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["deploy"], "give a model to deploy", id="deploy-nothing"),
        pytest.param(["deploy", "churn", "--service", "web"], "not both", id="deploy-model-and-service"),
        pytest.param(["deploy", "churn", "--port", "80"], "--port: only for services", id="model-with-port"),
        pytest.param(["deploy", "--service", "web", "--command", "x"], "needs --port", id="service-without-port"),
        pytest.param(["deploy", "--service", "web", "--port", "80"], "needs --image or --command",
                     id="service-without-program"),
        pytest.param(["deploy", "--service", "web", "--name", "x", "--image", "i", "--port", "80"],
                     "named by --service", id="service-with-name"),
        pytest.param(["deploy", "churn", "--cpu", "0"], "expected a number > 0", id="zero-cpu"),
        pytest.param(["deploy", "churn", "--gpus", "-1"], "expected a whole number", id="negative-gpus"),
        pytest.param(["deploy", "--service", "web", "--image", "i", "--port", "0"], "> 0", id="port-zero"),
        pytest.param(["deployments", "logs", "churn", "--tail", "many"], "whole number", id="tail-not-a-number"),
        pytest.param(["deployments"], "required", id="no-verb"),
        pytest.param(["predict", "churn"], "--json", id="predict-without-payload"),
        pytest.param(["jobs", "run", "etl", "--schedule", "0 3 * * *"], "only for a new job", id="schedule-no-command"),
        pytest.param(["jobs", "run", "etl", "--schedule", "0 3 * * *", "--wait", "--", "x"], "not for a schedule",
                     id="wait-on-a-schedule"),
        pytest.param(["jobs", "logs", "etl", "--run", "0"], "> 0", id="run-zero"),
    ],
)
def test_bad_arguments_exit_2_with_usage(argv, message):
    result = subprocess.run([MLLAB, *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "usage: mllab" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_top_level_usage_lists_the_new_commands():
    result = subprocess.run([MLLAB, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("deploy", "deployments", "predict", "jobs"):
        assert f"\n  {command} " in result.stderr


# -- against the recording server --------------------------------------------------------------------

@pytest.fixture
def mllab(fake, tmp_path):
    def run_mllab(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MLLAB_URL": fake.url, "MLLAB_TOKEN": "secret-token",
               "MLLAB_CACHE_DIR": str(tmp_path / "cache")}
        return subprocess.run([MLLAB, *argv], capture_output=True, text=True, env=env, input=stdin, timeout=60,
                              cwd=tmp_path)

    return run_mllab


def test_deploy_waits_until_ready_and_prints_the_url(fake, mllab):
    fake.on("POST", API + "deployments", Answer(201, deployment()))
    fake.on("GET", API + "deployments/users/alice/churn", Answer(body=deployment(status="starting")),
            Answer(body=deployment(status="ready")))
    result = mllab("deploy", "churn@production", "--memory", "1G")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "users/alice/churn is ready, serving users/alice/churn@production (v3):\n"
        f"  {fake.url}services/deployments/endpoints/users/alice/churn/\n"
        "Call it: mllab predict users/alice/churn --json payload.json\n")
    assert result.stderr == ""  # no status line when not on a terminal
    assert fake.sent("POST")[0].body == {"model": "users/alice/churn@production", "resources": {"mem_limit": "1G"}}


def test_deploy_json_without_waiting(fake, mllab):
    fake.on("POST", API + "deployments", Answer(201, deployment("web", kind="service", model=None, port=8000)))
    result = mllab("deploy", "--service", "web", "--command", "python -m http.server", "--port", "8000", "--no-wait",
                   "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["status"], answer["endpoint"]) == (
        "pending", f"{fake.url}services/deployments/endpoints/users/alice/web/")
    assert fake.sent("GET") == []
    assert fake.sent("POST")[0].body == {"namespace": "users/alice", "name": "web", "port": 8000,
                                         "command": ["python", "-m", "http.server"]}


def test_deploy_that_fails_exits_1_with_the_reason(fake, mllab):
    fake.on("POST", API + "deployments", Answer(201, deployment()))
    fake.on("GET", API + "deployments/users/alice/churn",
            Answer(body=deployment(status="failed", message="model server exited with 1")))
    result = mllab("deploy", "churn@production")
    assert result.returncode == 1
    assert result.stderr == ("mllab: error: users/alice/churn failed: model server exited with 1. Its log: "
                             "mllab deployments logs users/alice/churn\n")


def test_service_errors_are_one_line_and_exit_1(fake, mllab):
    # The service's own refusal (validation.check_image).
    message = "image 'evil:1' is not allowed here; ask an admin to allow it (DeploymentsApp.allowed_images)."
    fake.on("POST", API + "deployments", Answer(403, {"error": "image_not_allowed", "message": message}))
    result = mllab("deploy", "--service", "web", "--image", "evil:1", "--port", "80")
    assert result.returncode == 1
    assert result.stderr == f"mllab: error: {message} (403 image_not_allowed)\n"


@pytest.mark.parametrize(
    ("argv", "stdin", "path", "body"),
    [
        pytest.param(["predict", "churn", "--json", "-"], '{"dataframe_records": [{"a": 1}]}',
                     ENDPOINTS + "users/alice/churn/invocations", {"dataframe_records": [{"a": 1}]}, id="mlflow-stdin"),
        pytest.param(["predict", "groups/vision/cnn", "--json", "payload.json", "--v2"], None,
                     ENDPOINTS + "groups/vision/cnn/v2/models/cnn/infer", {"inputs": [{"name": "x"}]}, id="v2-file"),
    ],
)
def test_predict_prints_the_json_answer(fake, mllab, tmp_path, argv, stdin, path, body):
    (tmp_path / "payload.json").write_text(json.dumps(body))
    fake.on("POST", path, Answer(body={"predictions": [1]}))
    result = mllab(*argv, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"predictions": [1]}
    [sent] = fake.sent()
    assert (sent.path, sent.body) == (path, body)


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        pytest.param(["predict", "churn", "--json", "-"], "{not json", "The payload in standard input is not JSON",
                     id="not-json"),
        pytest.param(["predict", "churn", "--json", "missing.json"], None, "Cannot read the payload missing.json",
                     id="missing-file"),
    ],
)
def test_bad_payloads_are_one_line_and_send_nothing(fake, mllab, argv, stdin, message):
    result = mllab(*argv, stdin=stdin)
    assert result.returncode == 1
    assert result.stderr.startswith(f"mllab: error: {message}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert fake.sent() == []


def test_list_and_show(fake, mllab):
    items = [deployment(status="ready"), deployment("web", kind="service", model=None, model_version=None,
                                                    command=["python", "-m", "http.server"], port=8000)]
    fake.on("GET", API + "deployments", Answer(body={"items": items, "limit": 500, "next": None}))
    fake.on("GET", API + "deployments/users/alice/web", Answer(body=items[1]))
    listing = mllab("deployments", "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "STATUS", "UPDATED", "SERVES"]
    assert lines[1].split()[:3] == ["users/alice/churn", "model", "ready"]
    assert lines[2].endswith("python -m http.server")
    assert [d["name"] for d in json.loads(mllab("deployments", "list", "--json").stdout)] == ["churn", "web"]
    shown = mllab("deployments", "show", "web")
    assert "port:" in shown.stdout and "command:      python -m http.server" in shown.stdout
    assert f"url:          {fake.url}services/deployments/endpoints/users/alice/web/" in shown.stdout


def test_logs_follow_prints_each_line(fake, mllab):
    fake.on("GET", API + "deployments/users/alice/churn/logs", Answer(stream=["one", "two"]))
    result = mllab("deployments", "logs", "churn", "-f", "--tail", "5")
    assert (result.returncode, result.stdout) == (0, "one\ntwo\n")
    assert fake.sent()[0].params == {"tail": "5", "follow": "1"}


def test_stop_and_rollout(fake, mllab):
    fake.on("POST", API + "deployments/users/alice/churn/stop",
            Answer(body=deployment(status="stopped", desired="stopped")))
    fake.on("GET", API + "deployments/users/alice/churn", Answer(body=deployment(status="ready")),
            Answer(body=deployment(status="ready", model_version=4)))
    fake.on("POST", API + "deployments/users/alice/churn/rollout", Answer(body=deployment(status="ready",
                                                                                          model_version=4)))
    stopped = mllab("deployments", "stop", "churn")
    assert stopped.stdout == "Stopped users/alice/churn; mllab deployments start users/alice/churn runs it again.\n"
    rolled = mllab("deployments", "rollout", "churn")
    assert rolled.returncode == 0, rolled.stderr
    assert rolled.stdout == "Rolled out users/alice/churn: users/alice/churn@production, version 3 -> 4 (ready).\n"


def test_delete_needs_yes_when_not_interactive(fake, mllab):
    fake.on("DELETE", API + "deployments/users/alice/churn", Answer(204))
    refused = mllab("deployments", "delete", "churn")
    assert (refused.returncode, refused.stderr) == (
        1, "mllab: error: Refusing to delete deployment users/alice/churn without --yes.\n")
    assert fake.sent("DELETE") == []
    assert mllab("deployments", "delete", "churn", "--yes").stdout == "Deleted deployment users/alice/churn.\n"


def test_jobs_run_and_wait_exits_1_when_the_run_fails(fake, mllab):
    fake.on("POST", API + "jobs", Answer(201, job([run()])))
    fake.on("GET", JOB + "/runs/1", Answer(body=run()), Answer(body=run(status="failed", exit_code=3)))
    result = mllab("jobs", "run", "etl", "--wait", "--", "python", "-c", "raise SystemExit(3)")
    assert result.returncode == 1
    assert result.stderr == ("mllab: error: run 1 of users/alice/etl failed with exit status 3; its log: "
                             "mllab jobs logs users/alice/etl --run 1\n")
    assert fake.sent("POST")[0].body == {"namespace": "users/alice", "name": "etl",
                                         "command": ["python", "-c", "raise SystemExit(3)"]}


def test_jobs_run_without_waiting_and_on_a_schedule(fake, mllab):
    fake.on("POST", API + "jobs", Answer(201, job([run()])))
    started = mllab("jobs", "run", "etl", "--", "python", "etl.py")
    assert started.stdout == "Started run 1 of users/alice/etl; its log: mllab jobs logs users/alice/etl -f\n"
    fake.on("POST", API + "jobs", Answer(201, job(schedule="0 3 * * *", next_run="2026-01-03T03:00:00Z")))
    scheduled = mllab("jobs", "run", "etl", "--schedule", "0 3 * * *", "--image", "ghcr.io/acme/etl:1")
    assert scheduled.stdout == "Created users/alice/etl, on schedule 0 3 * * * (UTC); next run 2026-01-03 03:00.\n"
    assert fake.sent("POST")[1].body == {"namespace": "users/alice", "name": "etl", "image": "ghcr.io/acme/etl:1",
                                         "schedule": "0 3 * * *"}


def test_jobs_show_logs_cancel(fake, mllab):
    fake.on("GET", JOB, Answer(body=job([run(2, "running"), run(1, "failed", 3)])))
    fake.on("GET", JOB + "/runs/1/logs", Answer(text="boom\n"))
    fake.on("GET", JOB + "/runs", Answer(body={"items": [run(2)], "limit": 1, "next": "WzJd"}))
    fake.on("POST", JOB + "/runs/2/cancel", Answer(body=run(2, "cancelled")))
    shown = mllab("jobs", "show", "etl")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[-3].split() == ["RUN", "STATUS", "EXIT", "TRIGGER", "STARTED", "FINISHED"]
    assert shown.stdout.splitlines()[-1].split()[:4] == ["1", "failed", "3", "manual"]
    assert mllab("jobs", "logs", "etl", "--run", "1").stdout == "boom\n"
    assert mllab("jobs", "cancel", "etl").stdout == "Run 2 of users/alice/etl: cancelled.\n"
