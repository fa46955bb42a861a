"""The CLI's argument parsing, before any hub is involved."""

from __future__ import annotations

import subprocess

import pytest
from mllab.client.commands import build_parser

from ..harness import MLLAB, free_port


def parse(*argv):
    return build_parser().parse_args(list(argv))


def test_register_collects_lineage_options():
    args = parse("models", "register", "./model", "clf", "--dataset", "users/a/iris:1", "--dataset", "wine",
                 "--metric", "acc=0.93", "--param", "C=1", "--param", "solver=lbfgs", "--param", "layers=[64, 32]")
    assert args.datasets == ["users/a/iris:1", "wine"]
    assert dict(args.metrics) == {"acc": 0.93}
    assert dict(args.params) == {"C": 1, "solver": "lbfgs", "layers": [64, 32]}


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["models", "register", "m", "clf", "--metric", "acc=high"], id="metric-not-a-number"),
        pytest.param(["models", "register", "m", "clf", "--param", "novalue"], id="param-without-equals"),
        pytest.param(["datasets", "push", "d", "iris", "--metadata", "=x"], id="metadata-without-key"),
        pytest.param(["datasets", "register", "d", "iris"], id="datasets-have-no-register"),
        pytest.param(["datasets"], id="no-verb"),
    ],
)
def test_bad_arguments_exit_2_with_usage(argv):
    result = subprocess.run([MLLAB, *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "usage: mllab" in result.stderr
    assert "Traceback" not in result.stderr


def test_push_defaults():
    args = parse("datasets", "push", "./data", "iris")
    assert (args.namespace, args.tags, args.metadata, args.exclude, args.json, args.quiet) == (
        None, [], [], None, False, False)


def test_unconfigured_client_is_one_clear_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([MLLAB, "datasets", "list"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("mllab: error: No ML Lab Hub configured")
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_hub_is_one_clear_line(tmp_path):

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MLLAB_URL": f"http://127.0.0.1:{free_port()}/",
           "MLLAB_TOKEN": "t"}
    result = subprocess.run([MLLAB, "datasets", "show", "users/a/iris"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 1
    assert "Cannot reach" in result.stderr and "Connection refused" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_up_is_still_dispatched_to_the_hub_launcher():
    result = subprocess.run([MLLAB, "up", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--data-dir" in result.stdout


def test_ssh_keys_help_needs_no_hub(tmp_path):
    """Usage and --help of ``mllab ssh keys`` come before any hub is looked for."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    helped = subprocess.run([MLLAB, "ssh", "keys", "add", "--help"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert helped.returncode == 0 and "usage: mllab ssh keys add" in helped.stdout
    wrong = subprocess.run([MLLAB, "ssh", "keys", "frob"], capture_output=True, text=True, env=env, timeout=60)
    assert wrong.returncode == 2 and "invalid choice: 'frob'" in wrong.stderr
