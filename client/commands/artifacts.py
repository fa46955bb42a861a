"""``mllab datasets|models <verb>``: the Python API's verbs on the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..artifacts import Artifacts, Models
from ..errors import MLLabError
from ..manifest import DEFAULT_EXCLUDE
from ..refs import parse_ref
from .output import display_options, emit, emit_json, fields, human_size, listing, short_time, table


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def metric(text: str) -> tuple[str, float]:
    key, value = key_value(text)
    try:
        return key, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"metric {key} must be a number, got {value!r}") from None


def param(text: str) -> tuple[str, Any]:
    """``C=1`` -> 1, ``solver=lbfgs`` -> "lbfgs": JSON where the value is JSON, else the string."""
    key, value = key_value(text)
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _common(json_output: bool = True) -> argparse.ArgumentParser:
    parent = display_options(json_output, quiet="no progress bars")
    parent.add_argument("-j", "--workers", type=int, default=4, metavar="N", help="parallel transfers (default 4)")
    return parent


def _push_options(parser: argparse.ArgumentParser, noun: str) -> None:
    parser.add_argument("path", type=Path, help=f"file or folder to push as a new {noun} version")
    parser.add_argument("name", help="artifact name, or namespace/name (e.g. groups/vision/iris)")
    parser.add_argument("--namespace", help="users/<user> or groups/<group> (default: your own)")
    parser.add_argument("--description", help="set the artifact's description")
    parser.add_argument("--tag", action="append", default=[], dest="tags", metavar="TAG",
                        help="add a tag (repeatable)")
    parser.add_argument("--metadata", action="append", type=key_value, default=[], metavar="KEY=VALUE",
                        help="version metadata (repeatable)")
    parser.add_argument("--exclude", action="append", default=None, metavar="PATTERN",
                        help="leave out files or folders matching PATTERN (repeatable; default: "
                        f"{', '.join(DEFAULT_EXCLUDE)})")


def add_kind(commands: argparse._SubParsersAction, kind: str) -> None:
    noun = kind[:-1]
    common = _common()
    kind_parser = commands.add_parser(kind, help=f"push, pull and manage {kind}")
    verbs = kind_parser.add_subparsers(dest="verb", metavar="<verb>", required=True)

    push = verbs.add_parser("push", parents=[common], help=f"upload a file or folder as a new {noun} version")
    _push_options(push, noun)
    push.set_defaults(run=do_push)

    if kind == "models":
        register = verbs.add_parser("register", parents=[common], help="push a model version with its lineage")
        _push_options(register, noun)
        register.add_argument("--dataset", action="append", default=[], dest="datasets", metavar="REF",
                              help="dataset version it was trained on, e.g. users/alice/iris:3 (repeatable)")
        register.add_argument("--metric", action="append", type=metric, default=[], dest="metrics",
                              metavar="NAME=NUMBER", help="a metric, e.g. acc=0.93 (repeatable)")
        register.add_argument("--param", action="append", type=param, default=[], dest="params",
                              metavar="NAME=VALUE", help="a training parameter, e.g. C=1.0 (repeatable)")
        register.add_argument("--flavor", help="model format (default: mlflow when the folder has an MLmodel file)")
        register.set_defaults(run=do_push)

    pull = verbs.add_parser("pull", parents=[common], help=f"download a {noun} version into a folder")
    pull.add_argument("ref", help="e.g. users/alice/iris@latest, iris:3")
    pull.add_argument("dest", nargs="?", type=Path, help="folder to write into (default: ./<name>)")
    pull.set_defaults(run=do_pull)

    listing = verbs.add_parser("list", parents=[common], help=f"{kind} you can read")
    listing.add_argument("--namespace", help="only this namespace (users/<user> or groups/<group>)")
    listing.add_argument("--tag", action="append", default=[], dest="tags", metavar="TAG",
                         help="only with this tag (repeatable)")
    listing.add_argument("-s", "--search", help="text in the name or description")
    listing.set_defaults(run=do_list)

    show = verbs.add_parser("show", parents=[common], help=f"a {noun}, or one of its versions with its files")
    show.add_argument("ref", help="name (the artifact) or name:3 / name@alias (a version)")
    show.set_defaults(run=do_show)

    versions = verbs.add_parser("versions", parents=[common], help=f"the versions of a {noun}, newest first")
    versions.add_argument("name")
    versions.set_defaults(run=do_versions)

    alias = verbs.add_parser("alias", parents=[common], help="point an alias (e.g. production) at a version")
    alias.add_argument("ref", help="the version, e.g. users/alice/clf:2")
    alias.add_argument("alias")
    alias.set_defaults(run=do_alias)

    unalias = verbs.add_parser("unalias", parents=[common], help="remove an alias (the version stays)")
    unalias.add_argument("name")
    unalias.add_argument("alias")
    unalias.set_defaults(run=do_unalias)

    delete = verbs.add_parser("delete", parents=[common], help=f"delete a version (name:3) or a whole {noun}")
    delete.add_argument("ref")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(run=do_delete)


def do_push(api: Artifacts, args: argparse.Namespace) -> None:
    options: dict[str, Any] = {
        "namespace": args.namespace, "description": args.description, "tags": args.tags,
        "metadata": dict(args.metadata) or None, "progress": False if args.quiet else None,
    }
    if args.exclude is not None:
        options["exclude"] = args.exclude
    if args.verb == "register":
        assert isinstance(api, Models)
        result = api.register(args.path, args.name, datasets=args.datasets, params=dict(args.params),
                              metrics=dict(args.metrics), flavor=args.flavor, **options)
    else:
        result = api.push(args.path, args.name, **options)
    if args.json:
        emit_json(result.as_json())
    elif result.unchanged:
        print(f"{result.ref} is unchanged: no new version, nothing sent.")
    else:
        print(f"Pushed {result.ref}: {result.files} files, {result.files_sent} sent "
              f"({human_size(result.bytes_sent)}){', resumed' if result.resumed else ''}.")


def do_pull(api: Artifacts, args: argparse.Namespace) -> None:
    dest = args.dest or Path(parse_ref(args.ref).name)
    result = api.pull(args.ref, dest, progress=False if args.quiet else None)
    if args.json:
        emit_json(result.as_json())
    else:
        print(f"Pulled {result.ref} into {dest}: {len(result.paths)} files, {result.files_downloaded} downloaded "
              f"({human_size(result.bytes_received)}).")


def do_list(api: Artifacts, args: argparse.Namespace) -> None:
    listing(api.list(namespace=args.namespace, tag=args.tags or None, q=args.search), args.json,
            ["NAME", "LATEST", "TAGS", "UPDATED", "DESCRIPTION"],
            lambda a: (a["full_name"], a.get("latest") or "-", ",".join(a.get("tags") or []),
                       short_time(a.get("updated_at")), (a.get("description") or "")[:60]),
            empty=f"No {api.kind} found.")


def do_show(api: Artifacts, args: argparse.Namespace) -> None:
    if not parse_ref(args.ref).pinned:
        artifact = api.info(args.ref)
        if args.json:
            emit_json(artifact)
            return
        fields([("name", artifact["full_name"]), ("kind", artifact["kind"]),
                ("description", artifact.get("description")), ("tags", artifact.get("tags")),
                ("latest", artifact.get("latest")), ("aliases", artifact.get("aliases")),
                ("created", f"{short_time(artifact.get('created_at'))} by {artifact.get('created_by')}"),
                ("updated", short_time(artifact.get("updated_at")))])
        return
    version = api.get(args.ref)
    if args.json:
        emit_json(version)
        return
    lineage = version.get("lineage") or {}
    fields([("version", f"{version['artifact']}:{version['number']}"), ("aliases", version.get("aliases")),
            ("created", f"{short_time(version.get('created_at'))} by {version.get('created_by')}"),
            ("size", f"{human_size(version.get('size'))} in {version.get('file_count')} files"),
            ("metadata", version.get("metadata")), ("datasets", lineage.get("datasets")),
            ("workspace", lineage.get("workspace")), ("flavor", lineage.get("flavor")),
            ("params", lineage.get("params")), ("metrics", lineage.get("metrics")),
            ("used by", version.get("used_by"))])
    print()
    table(["SIZE", "SHA256", "PATH"],
          [(human_size(f["size"]), f["sha256"][:12], f["path"]) for f in version.get("files", [])])


def do_versions(api: Artifacts, args: argparse.Namespace) -> None:
    listing(api.versions(args.name), args.json, ["VERSION", "ALIASES", "FILES", "SIZE", "CREATED", "BY"],
            lambda v: (v["number"], ",".join(v.get("aliases") or []), v.get("file_count"), human_size(v.get("size")),
                       short_time(v.get("created_at")), v.get("created_by")))


def do_alias(api: Artifacts, args: argparse.Namespace) -> None:
    answer = api.alias(args.ref, args.alias)
    if args.json:
        emit_json(answer)
    else:
        print(f"{api.ref(args.ref).full_name}@{answer['alias']} -> version {answer['version']}")


def do_unalias(api: Artifacts, args: argparse.Namespace) -> None:
    api.unalias(args.name, args.alias)
    if args.json:
        emit_json({"alias": args.alias, "removed": True})
    else:
        print(f"Removed alias {args.alias} of {api.ref(args.name).full_name}.")


def do_delete(api: Artifacts, args: argparse.Namespace) -> None:
    ref = api.ref(args.ref)
    what = f"version {ref}" if ref.number else f"{api.kind[:-1]} {ref} with all its versions"
    if not args.yes:
        if not sys.stdin.isatty():
            raise MLLabError(f"Refusing to delete {what} without --yes.")
        if input(f"Delete {what}? [y/N] ").strip().lower() not in ("y", "yes"):
            raise MLLabError("Nothing deleted.")
    api.delete(str(ref))
    emit(args.json, {"deleted": str(ref)}, f"Deleted {what}.")
