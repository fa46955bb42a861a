"""``mllab deploy``, ``mllab deployments <verb>`` and ``mllab predict``: serve models and services, operate them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..deployments import Deployments
from ..errors import MLLabError
from .artifacts import key_value
from .output import display_options, emit, emit_json, fields, listing, short_time


class CheckedParser(argparse.ArgumentParser):
    """An ArgumentParser that, after parsing, calls its ``check(parser, args)`` default if it has one.

    For what argparse cannot say by itself (``mllab deploy`` takes a model or ``--service``, and each its
    own options): a misuse exits 2 with the usage, as every other bad argument does.

    A parser with an ``after_dashes`` default (a destination name) takes what follows ``--`` as that list,
    whole: ``mllab jobs run etl --env A=1 -- python etl.py --wait`` runs ``python etl.py --wait``. (A
    ``nargs="*"`` positional would match nothing as soon as ``etl`` is read, between two options.)
    """

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        after = self.get_default("after_dashes")
        tail: list[str] = []
        if after is not None and args is not None and "--" in args:
            args = list(args)
            split = args.index("--")
            args, tail = args[:split], args[split + 1:]
        parsed, rest = super().parse_known_args(args, namespace)
        if after is not None:
            setattr(parsed, after, tail)
        check = self.get_default("check")
        if check is not None:
            check(self, parsed)
        return parsed, rest


def options(json_output: bool = True) -> argparse.ArgumentParser:
    """Options every verb of deployments and jobs takes."""
    parent = display_options(json_output)
    parent.set_defaults(workers=4)
    return parent


def resource_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cpu", type=positive_float, metavar="CORES", help="CPU limit in cores, e.g. 1 or 0.5")
    parser.add_argument("--memory", metavar="SIZE", help="memory limit, e.g. 512M or 2G")
    parser.add_argument("--gpus", type=non_negative_int, metavar="N", help="GPUs to reserve (container backends)")
    parser.add_argument("--env", action="append", type=key_value, default=[], metavar="KEY=VALUE",
                        help="an environment variable (repeatable)")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a whole number > 0, got {text!r}")
    return value


def add_deploy(commands: argparse._SubParsersAction) -> None:
    deploy = commands.add_parser(
        "deploy", parents=[options()], help="serve a registered model, or run a service",
        description="Serve a registered model at a platform URL (mllab deploy users/alice/churn@production), or run "
        "a service: a program listening on --port, from --image or (local backend) --command "
        "(mllab deploy --service web --command \"sh -c 'exec python -m http.server --bind $HOST $PORT'\" --port 8000). "
        "Waits until it is ready and prints its URL.",
    )
    deploy.add_argument("model", nargs="?", help="the model version to serve, e.g. users/alice/churn@production")
    deploy.add_argument("--service", metavar="NAME", help="run a service NAME instead of a model")
    deploy.add_argument("--name", help="deployment name (default: the model's name)")
    deploy.add_argument("--namespace", help="users/<user> or groups/<group> (default: the model's, or your own)")
    deploy.add_argument("--image", help="container image: the runtime image of a model that needs other packages, "
                        "or the service's image (allowed by the admin)")
    deploy.add_argument("--command", dest="service_command", metavar="COMMAND",
                        help="service: the command to run, as one string (split like a shell, not run by one); on "
                        "container backends it overrides the image's")
    deploy.add_argument("--port", type=positive_int, help="service: the port it listens on (also in $PORT)")
    deploy.add_argument("--replicas", type=positive_int, help="service: how many copies run (1-10)")
    resource_options(deploy)
    deploy.add_argument("--idle-timeout", type=non_negative_int, metavar="SECONDS",
                        help="stop it after this long without a request (0: never)")
    deploy.add_argument("--no-wait", dest="wait", action="store_false", help="return once it is created")
    deploy.add_argument("--timeout", type=positive_float, default=600, metavar="SECONDS",
                        help="how long to wait until it is ready (default 600)")
    deploy.set_defaults(run=do_deploy, api="deployments", check=check_deploy)


def check_deploy(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What argparse cannot say by itself: a model or --service, and the options each one takes."""
    if (args.model is None) == (args.service is None):
        parser.error("give a model to deploy (e.g. users/alice/churn@production) or --service NAME, not both")
    if args.model is not None:
        given = [f"--{k}" for k, v in (("command", args.service_command), ("port", args.port),
                                        ("replicas", args.replicas)) if v is not None]
        if given:
            parser.error(f"{', '.join(given)}: only for services (--service NAME)")
    else:
        if args.name is not None:
            parser.error("--name: a service is named by --service NAME")
        if args.image is None and args.service_command is None:
            parser.error("a service needs --image or --command")
        if args.port is None:
            parser.error("a service needs --port")


def add_deployments(commands: argparse._SubParsersAction) -> None:
    common = options()
    parser = commands.add_parser("deployments", help="list and operate deployed models and services")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)

    listing = verbs.add_parser("list", parents=[common], help="deployments you can read")
    listing.add_argument("--namespace", help="only this namespace (users/<user> or groups/<group>)")
    listing.set_defaults(run=do_list)

    show = verbs.add_parser("show", parents=[common], help="a deployment: status, what it serves, its URL")
    show.add_argument("ref", help="e.g. users/alice/churn, or churn for your own")
    show.set_defaults(run=do_show)

    logs = verbs.add_parser("logs", parents=[options(json_output=False)], help="its output")
    logs.add_argument("ref")
    logs.add_argument("-f", "--follow", action="store_true", help="go on printing until interrupted")
    logs.add_argument("--tail", type=non_negative_int, metavar="N", help="the last N lines (default 200)")
    logs.set_defaults(run=do_logs)

    for verb, summary in (("start", "run a stopped deployment again"),
                          ("restart", "stop and start it"),
                          ("rollout", "serve the version its model reference names now (after an alias moved), "
                                      "with no failed request")):
        action = verbs.add_parser(verb, parents=[common], help=summary)
        action.add_argument("ref")
        action.add_argument("--no-wait", dest="wait", action="store_false", help="do not wait until it is ready")
        action.add_argument("--timeout", type=positive_float, default=600, metavar="SECONDS",
                            help="how long to wait until it is ready (default 600)")
        action.set_defaults(run=do_action)

    stop = verbs.add_parser("stop", parents=[common], help="stop it (the record stays; start brings it back)")
    stop.add_argument("ref")
    stop.set_defaults(run=do_action, wait=False)

    delete = verbs.add_parser("delete", parents=[common], help="stop it and remove it")
    delete.add_argument("ref")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(run=do_delete)


def add_predict(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser(
        "predict", parents=[options(json_output=False)], help="send a JSON payload to a deployed model",
        description="POST a JSON payload to a model deployment and print its JSON answer: MLflow's invocations "
        "protocol ({\"dataframe_split\": ...}, {\"dataframe_records\": ...}, {\"instances\": ...}, {\"inputs\": ...}), "
        "or with --v2 the Open Inference Protocol ({\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}]}).",
    )
    predict.add_argument("ref", help="the deployment, e.g. users/alice/churn or churn")
    predict.add_argument("--json", dest="payload", required=True, metavar="FILE",
                         help="the payload: a JSON file, or - for standard input")
    predict.add_argument("--v2", dest="protocol", action="store_const", const="v2", default="mlflow",
                         help="Open Inference Protocol v2 (POST v2/models/<name>/infer) instead of MLflow's "
                         "invocations")
    predict.set_defaults(run=do_predict, api="deployments")


# -- running the verbs -------------------------------------------------------------------------------

def show_json(api: Deployments, deployment: dict) -> None:
    """The Deployment as the API answers it, plus ``endpoint``: its full URL."""
    emit_json({**deployment, "endpoint": api.url_of(deployment)})


def wait_ready(api: Deployments, deployment: dict, args: argparse.Namespace) -> dict:
    """Wait with a status line; Ctrl-C stops waiting (exit 130), not the deployment."""
    name = deployment["full_name"]
    try:
        return api.wait(name, timeout=args.timeout, progress=False if args.quiet else None)
    except KeyboardInterrupt:
        print(f"mllab: stopped waiting; {name} goes on starting (mllab deployments show {name}).", file=sys.stderr)
        raise SystemExit(130) from None


def serves(deployment: dict) -> str:
    if deployment.get("kind") == "model":
        version = deployment.get("model_version")
        return f"{deployment.get('model')}" + (f" (v{version})" if version is not None else "")
    return deployment.get("image") or " ".join(deployment.get("command") or [])


def do_deploy(api: Deployments, args: argparse.Namespace) -> None:
    spec: dict[str, Any] = {"image": args.image, "env": dict(args.env) or None, "cpu": args.cpu,
                            "memory": args.memory, "gpus": args.gpus, "idle_timeout": args.idle_timeout}
    if args.service is not None:
        deployment = api.create(name=args.service, namespace=args.namespace, command=args.service_command,
                                port=args.port, replicas=args.replicas, **spec)
    else:
        deployment = api.create(args.model, name=args.name, namespace=args.namespace, **spec)
    if args.wait:
        deployment = wait_ready(api, deployment, args)
    if args.json:
        show_json(api, deployment)
        return
    name, url = deployment["full_name"], api.url_of(deployment)
    if deployment["status"] == "ready":
        print(f"{name} is ready, serving {serves(deployment)}:\n  {url}")
        if deployment.get("kind") == "model":
            print(f"Call it: mllab predict {name} --json payload.json")
    else:
        print(f"Deploying {name} ({deployment['status']}) at\n  {url}\nFollow it: mllab deployments show {name}")


def do_list(api: Deployments, args: argparse.Namespace) -> None:
    listing(api.list(namespace=args.namespace), args.json, ["NAME", "KIND", "STATUS", "UPDATED", "SERVES"],
            lambda d: (d["full_name"], d.get("kind"), d.get("status"), short_time(d.get("updated_at")),
                       serves(d)[:60]),
            empty="No deployments found.")


def do_show(api: Deployments, args: argparse.Namespace) -> None:
    d = api.get(args.ref)
    if args.json:
        show_json(api, d)
        return
    status = d.get("status")
    if d.get("message"):
        status = f"{status}: {d['message']}"
    service = d.get("kind") != "model"
    idle = d.get("idle_timeout")
    fields([("name", d["full_name"]), ("kind", d.get("kind")), ("status", status), ("desired", d.get("desired")),
            ("model", d.get("model")), ("version", d.get("model_version")), ("image", d.get("image")),
            ("command", " ".join(d.get("command") or [])), ("port", d.get("port") if service else None),
            ("replicas", d.get("replicas") if service else None), ("resources", d.get("resources")),
            ("env", d.get("env")), ("url", api.url_of(d)),
            ("idle timeout", f"{idle} s" if idle else "never"),
            ("created", f"{short_time(d.get('created_at'))} by {d.get('created_by')}"),
            ("updated", short_time(d.get("updated_at"))), ("last access", short_time(d.get("last_access")))])


def do_logs(api: Deployments, args: argparse.Namespace) -> None:
    print_logs(api.logs(args.ref, tail=args.tail, follow=args.follow))


def print_logs(logs: Any) -> None:
    """A log string as it is; a followed log line by line until it ends, or Ctrl-C (exit 130, quietly)."""
    if isinstance(logs, str):
        sys.stdout.write(logs)
        return
    try:
        for line in logs:
            print(line, flush=True)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    finally:
        logs.close()


def do_action(api: Deployments, args: argparse.Namespace) -> None:
    before = api.get(args.ref) if args.verb == "rollout" else None
    deployment = getattr(api, args.verb)(args.ref)
    if args.wait:
        deployment = wait_ready(api, deployment, args)
    if args.json:
        show_json(api, deployment)
        return
    name = deployment["full_name"]
    if args.verb == "stop":
        print(f"Stopped {name}; mllab deployments start {name} runs it again.")
    elif args.verb == "rollout":
        was = before.get("model_version") if before else None
        now = deployment.get("model_version")
        change = f"version {was} -> {now}" if was != now else f"still version {now}"
        print(f"Rolled out {name}: {deployment.get('model')}, {change} ({deployment['status']}).")
    else:
        print(f"{args.verb.capitalize()}ed {name} ({deployment['status']}): {api.url_of(deployment)}")


def confirm(what: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise MLLabError(f"Refusing to delete {what} without --yes.")
    if input(f"Delete {what}? [y/N] ").strip().lower() not in ("y", "yes"):
        raise MLLabError("Nothing deleted.")


def do_delete(api: Deployments, args: argparse.Namespace) -> None:
    ref = api.ref(args.ref)
    confirm(f"deployment {ref.full_name}", args.yes)
    api.delete(ref)
    emit(args.json, {"deleted": ref.full_name}, f"Deleted deployment {ref.full_name}.")


def read_payload(source: str) -> Any:
    """The JSON in file ``source``, or on standard input for ``-``."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as e:
        raise MLLabError(f"Cannot read the payload {source}: {e.strerror or e}.") from None
    try:
        return json.loads(text)
    except ValueError as e:
        where = "standard input" if source == "-" else source
        raise MLLabError(f"The payload in {where} is not JSON: {e}.") from None


def do_predict(api: Deployments, args: argparse.Namespace) -> None:
    emit_json(api.predict(args.ref, read_payload(args.payload), protocol=args.protocol))
